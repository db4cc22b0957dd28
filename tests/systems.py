"""Reference systems and their closed forms, written once for every test file.

Each builder returns a machine made through the public API; each closed form is derived in its
docstring from the definitions of docs/physics.md (hbar = k_B = 1), independently of the code under
test.  Helpers for states (Gibbs states, random Hermitian matrices and density matrices) live here
too, so that no test file carries its own copy.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.linalg as la

from engines import BosonicBath, Composite, Drive, Engine, FermionicLead, Levels, Qubit

# ---------------------------------------------------------------------------------------------
# occupations and states


def bose(w, T):
    """Bose occupation n(w) = 1/(exp(w/T) - 1) (0 at T = 0)."""
    return 0.0 if T == 0 else 1.0 / math.expm1(w / T)


def fermi(w, T, mu=0.0):
    """Fermi occupation f(w) = 1/(exp((w - mu)/T) + 1)."""
    x = (w - mu) / T
    return math.exp(-x) / (1.0 + math.exp(-x)) if x > 0 else 1.0 / (1.0 + math.exp(x))


def p_excited(w, T):
    """Excited population of a qubit H = (w/2) sigma_z at temperature T: 1/(1 + exp(w/T))."""
    return 1.0 / (1.0 + math.exp(w / T))


def gibbs(H, T):
    """exp(-H/T)/Z by eigendecomposition (shifted by the ground energy, so no overflow)."""
    E, V = np.linalg.eigh(np.asarray(H))
    p = np.exp(-(E - E[0]) / T)
    return (V * (p / p.sum())) @ V.conj().T


def random_hermitian(rng, d):
    """A Hermitian d x d matrix with standard normal real and imaginary parts."""
    z = rng.normal(size=(d, d)) + 1j * rng.normal(size=(d, d))
    return 0.5 * (z + z.conj().T)


def random_state(rng, d, rank=None):
    """A random density matrix of the given rank (full rank by default)."""
    k = d if rank is None else rank
    z = rng.normal(size=(d, k)) + 1j * rng.normal(size=(d, k))
    rho = z @ z.conj().T
    return rho / np.trace(rho).real


def entropy(rho):
    """Von Neumann entropy -Tr[rho ln rho] from the eigenvalues (independent of engines.linalg)."""
    p = np.linalg.eigvalsh(rho)
    p = p[p > 1e-300]
    return float(-np.sum(p * np.log(p)))


def relative_entropy(rho, sigma):
    """Tr[rho (ln rho - ln sigma)] with scipy's matrix logarithm (full-rank arguments)."""
    return float(np.real(np.trace(rho @ (la.logm(rho) - la.logm(sigma)))))


# ---------------------------------------------------------------------------------------------
# a qubit between two baths


def qubit_two_baths(w=1.0, T_h=2.0, T_c=0.5, kappa_h=0.1, kappa_c=0.1):
    """A qubit H = (w/2) sigma_z between two flat bosonic baths coupled through sigma_x (global)."""
    return Engine(
        Qubit(w),
        [BosonicBath("hot", T_h, kappa_h, "sigma_x"), BosonicBath("cold", T_c, kappa_c, "sigma_x")],
    )


def qubit_two_baths_current(w, T_h, T_c, kappa_h, kappa_c):
    """Closed-form NESS of `qubit_two_baths`: (excited population, heat current from the hot bath).

    Bath a moves the qubit up at gamma_a n_a and down at gamma_a (1 + n_a) (|<g|sigma_x|e>|^2 = 1),
    n_a = n(w, T_a).  The rate equation gives p_e = sum_a k_a n_a / sum_a k_a (2 n_a + 1), and the
    hot bath's current J_h = w (k_h n_h p_g - k_h (1 + n_h) p_e)
    = w k_h k_c (n_h - n_c) / sum_a k_a (2 n_a + 1)  (Breuer & Petruccione, OUP 2002, 3.4.6).
    """
    n_h, n_c = bose(w, T_h), bose(w, T_c)
    total = kappa_h * (2 * n_h + 1) + kappa_c * (2 * n_c + 1)
    p_e = (kappa_h * n_h + kappa_c * n_c) / total
    return p_e, w * kappa_h * kappa_c * (n_h - n_c) / total


# ---------------------------------------------------------------------------------------------
# the three-level maser


def maser(w_c=1.0, w_h=3.0, T_h=10.0, T_c=0.5, kappa=0.01, strength=0.05):
    """The Scovil & Schulz-DuBois maser: Levels [0, w_c, w_h], hot bath on 0-2, cold on 0-1, field on 1-2.

    Its efficiency is exactly 1 - w_c/w_h whenever it runs as an engine (each quantum w_h from the
    hot bath returns w_c to the cold one): H. E. D. Scovil and E. O. Schulz-DuBois, Phys. Rev. Lett.
    2, 262 (1959).  It is an engine iff the 1 <-> 2 transition is inverted, w_c/T_c > w_h/T_h.
    """
    return Engine(
        Levels([0.0, w_c, w_h]),
        [
            BosonicBath("hot", T_h, kappa, "pair_0_2"),
            BosonicBath("cold", T_c, kappa, "pair_0_1"),
        ],
        drive=Drive((1, 2), strength),
    )


# ---------------------------------------------------------------------------------------------
# the smallest absorption refrigerator

#: Three-body coupling |1_c 0_r 1_h><0_c 1_r 0_h| + h.c. of the Linden-Popescu-Skrzypczyk fridge.
LPS_COUPLING = [("sigma_plus", 0), ("sigma_minus", 1), ("sigma_plus", 2)]


def lps_fridge(E_c=1.0, E_h=2.0, T_c=0.9, T_r=1.0, T_h=10.0, g=0.01, kappa=1e-4, flavour="global"):
    """Three qubits c, r, h, E_r = E_c + E_h, a bath each (as examples/absorption_refrigerator.toml).

    N. Linden, S. Popescu and P. Skrzypczyk, Phys. Rev. Lett. 105, 130401 (2010).  The qubits use
    H = (E/2) sigma_z with |0> the upper level and sigma_plus = |0><1| raising it: the coupling
    exchanges |g_c e_r g_h> and |e_c g_r e_h>, resonant because E_r = E_c + E_h.  The bath couplings
    sit well below g, where the global (secular) master equation is valid.
    """
    E_r = E_c + E_h
    qubits = [Qubit(E_c), Qubit(E_r), Qubit(E_h)]
    medium = Composite(qubits, [(g, LPS_COUPLING)])
    baths = [
        BosonicBath("cold", T_c, kappa, "sigma_x", site=0),
        BosonicBath("room", T_r, kappa, "sigma_x", site=1),
        BosonicBath("hot", T_h, kappa, "sigma_x", site=2),
    ]
    return Engine(medium, baths, flavour)


def lps_cop(E_c, E_h):
    """COP J_cold / J_hot = E_c / E_h: each swap takes E_c from the cold and E_h from the hot bath."""
    return E_c / E_h


def lps_cools(E_c, E_h, T_c, T_r, T_h):
    """Whether the LPS machine refrigerates: E_c/T_c + E_h/T_h < E_r/T_r (E_r = E_c + E_h).

    The swap |e_c g_r e_h> -> |g_c e_r g_h> takes heat from the cold qubit; in the product of the
    baths' Gibbs states it outweighs the reverse swap iff p(e_c g_r e_h) > p(g_c e_r g_h), i.e.
    exp(-E_c/T_c - E_h/T_h) > exp(-E_r/T_r) (Linden, Popescu, Skrzypczyk 2010).  Otherwise heat runs
    the other way: from the room into the hot and the cold baths (an absorption heat transformer).
    """
    return E_c / T_c + E_h / T_h < (E_c + E_h) / T_r


# ---------------------------------------------------------------------------------------------
# Otto media


def otto_qubit_work(w_c, w_h, T_c, T_h):
    """Work per cycle W on a qubit Otto engine with full thermalisation and sudden quenches.

    The quenches move no population; the excited population is p_h = p_e(w_h, T_h) after the hot
    stroke and p_c after the cold one, so W = (w_c - w_h)(p_h - p_c) per cycle, i.e. -W =
    (w_h - w_c)(tanh(w_c/2T_c) - tanh(w_h/2T_h))/2 (T. D. Kieu, Phys. Rev. Lett. 93, 140403 (2004)).
    """
    return (w_c - w_h) * (p_excited(w_h, T_h) - p_excited(w_c, T_c))


def otto_oscillator_work(w_c, w_h, T_c, T_h):
    """Work per cycle W of an oscillator Otto engine (full thermalisation, sudden quenches).

    <n> is n(w_h, T_h) after the hot stroke and n(w_c, T_c) after the cold one and is kept by the
    quenches, so W = (w_c - w_h)(n_h - n_c) (Y. Rezek and R. Kosloff, New J. Phys. 8, 83 (2006)).
    """
    return (w_c - w_h) * (bose(w_h, T_h) - bose(w_c, T_c))


# ---------------------------------------------------------------------------------------------
# a single-level quantum dot between two leads


def dot(eps=1.0, T_l=1.0, T_r=1.0, mu_l=0.5, mu_r=-0.5, gamma_l=0.01, gamma_r=0.01):
    """A single fermionic level eps (Levels [0, eps], |1> occupied) between two leads (global)."""
    return Engine(
        Levels([0.0, eps]),
        [
            FermionicLead("left", T_l, mu_l, gamma_l, "jump_0_1"),
            FermionicLead("right", T_r, mu_r, gamma_r, "jump_0_1"),
        ],
    )


def dot_currents(eps, T_l, T_r, mu_l, mu_r, gamma_l, gamma_r):
    """(particle current I_left, heat current J_left) of `dot` into the level.

    Each lead fills the level at Gamma_a f_a and empties it at Gamma_a (1 - f_a); the occupation is
    p = sum_a Gamma_a f_a / sum_a Gamma_a, and I_left = Gamma_l (f_l - p) = Gamma_l Gamma_r (f_l - f_r)
    / (Gamma_l + Gamma_r); every particle carries energy eps, so J_left = (eps - mu_l) I_left
    (M. Esposito, K. Lindenberg, C. Van den Broeck, EPL 85, 60010 (2009)).
    """
    f_l, f_r = fermi(eps, T_l, mu_l), fermi(eps, T_r, mu_r)
    current = gamma_l * gamma_r * (f_l - f_r) / (gamma_l + gamma_r)
    return current, (eps - mu_l) * current


# ---------------------------------------------------------------------------------------------
# counting statistics of a two-state machine


def two_state_counting(up_a, down_a, up_b, down_b, nu=1.0):
    """(mean, variance) rates of what reservoir a moves into a two-state system, nu per jump.

    Reservoir a raises the system at rate up_a (bringing +nu) and lowers it at down_a (-nu); b has
    up_b, down_b and is not counted.  The tilted rate matrix [[-(u_a + u_b), d_a e^{-chi nu} + d_b],
    [u_a e^{chi nu} + u_b, -(d_a + d_b)]] has the largest eigenvalue theta(chi) = -S/2 +
    sqrt(S^2/4 + g(chi)), S = u_a + d_a + u_b + d_b, g = u_a d_b (e^{chi nu} - 1) + d_a u_b (e^{-chi nu} - 1),
    so J = theta'(0) = nu (u_a d_b - d_a u_b) / S and Var = theta''(0) = nu^2 (u_a d_b + d_a u_b) / S
    - 2 nu^2 (u_a d_b - d_a u_b)^2 / S^3 (M. Esposito, U. Harbola, S. Mukamel, Rev. Mod. Phys. 81,
    1665 (2009), Sec. III).
    """
    S = up_a + down_a + up_b + down_b
    forward, backward = up_a * down_b, down_a * up_b
    mean = nu * (forward - backward) / S
    variance = nu**2 * (forward + backward) / S - 2 * nu**2 * (forward - backward) ** 2 / S**3
    return mean, variance


# squeezed thermal baths


def squeezed_moments(w, T, r, phi):
    """(N, M) of the squeezed thermal bath at mode frequency w: N = <a^dag a>, M = <a a> of its state.

    N = n (cosh^2 r + sinh^2 r) + sinh^2 r = n cosh 2r + sinh^2 r and
    M = -(2n + 1) e^{i phi} cosh r sinh r, n = n_th(w, T) (Breuer & Petruccione, *The Theory of Open
    Quantum Systems*, OUP 2002, Sec. 3.4.3; Scully & Zubairy, *Quantum Optics*, 1997).
    The master equation's stationary state has <a^dag a> = N and <a a> = M.
    """
    n = bose(w, T)
    c, s = math.cosh(r), math.sinh(r)
    return n * (c * c + s * s) + s * s, -(2 * n + 1) * complex(math.cos(phi), math.sin(phi)) * c * s


def squeezed_otto_work(w_h, w_c, T_h, T_c, r):
    """Work on the oscillator per Otto cycle with a squeezed hot bath, full thermalisation, sudden strokes.

    H(w) = w a^dag a keeps the Fock basis at every w, so the quenches keep the occupations: after the
    hot stroke <n>_h = N(w_h, T_h, r) = n_th(T_h) cosh 2r + sinh^2 r (`squeezed_moments`), after the
    cold one <n>_c = n_th(w_c, T_c).  W = (w_h - w_c)(<n>_c - <n>_h), Q_h = w_h (<n>_h - <n>_c), so the
    machine is an engine (W < 0) iff <n>_h > <n>_c, at efficiency 1 - w_c/w_h (Rossnagel, Abah,
    Schmidt-Kaler, Singer, Lutz, PRL 112, 030602 (2014)).
    """
    n_h = squeezed_moments(w_h, T_h, r, 0.0)[0]
    return (w_h - w_c) * (bose(w_c, T_c) - n_h)


def squeezed_otto_threshold(w_h, w_c, T_h, T_c):
    """The squeezing r* above which the squeezed Otto cycle is an engine (0 if it is one at r = 0).

    <n>_h = n_th(T_h) cosh 2r + sinh^2 r = (n_th(T_h) + 1/2) cosh 2r - 1/2 grows with r, so
    <n>_h = <n>_c solves to cosh 2r* = (n_c + 1/2) / (n_h + 1/2) (`squeezed_otto_work`).
    """
    x = (bose(w_c, T_c) + 0.5) / (bose(w_h, T_h) + 0.5)
    return 0.0 if x <= 1 else 0.5 * math.acosh(x)


def squeezed_otto_max_power_efficiency(T_h, T_c, r):
    """High-temperature efficiency at maximum power of the squeezed Otto engine.

    For T >> w, n_th(w, T) = T/w - 1/2 + O(w/T) and <n>_h = (T_h/w_h)(1 + 2 sinh^2 r) - 1/2 + O(w/T), so
    -W = (w_h - w_c)(T_h (1 + 2 sinh^2 r)/w_h - T_c/w_c) (the 1/2 cancels); at fixed w_h it is largest at
    w_c / w_h = sqrt(T_c / (T_h (1 + 2 sinh^2 r))), the efficiency
    eta* = 1 - sqrt(T_c / (T_h (1 + 2 sinh^2 r))), the high-temperature result of Rossnagel et al.,
    PRL 112, 030602 (2014).
    """
    return 1.0 - math.sqrt(T_c / (T_h * (1.0 + 2.0 * math.sinh(r) ** 2)))


# ---------------------------------------------------------------------------------------------
# boundary-driven spin chains


def boundary_driven_chain(n, Delta, G, mu, J=1.0):
    """The XXZ chain driven at its ends by magnetisation baths (Prosen, PRL 107, 137201 (2011)).

    L1 = sqrt(G (1 + mu)) sigma^+_0, L2 = sqrt(G (1 - mu)) sigma^-_0 on the first site and the mirror
    L3 = sqrt(G (1 - mu)) sigma^+_{n-1}, L4 = sqrt(G (1 + mu)) sigma^-_{n-1} on the last, as two
    `ChannelReservoir`s named "left" and "right" reporting the magnetisation current
    Tr[M D_a(rho)], M = sum_i sigma^z_i / 2 (positive into the chain).
    """
    from engines import ChannelReservoir, SpinChain

    chain = SpinChain(n, J=J, Delta=Delta)
    M = 0.5 * sum(chain.operator("sigma_z", i) for i in range(n))
    left = ChannelReservoir(
        "left", [("sigma_plus_0", G * (1 + mu)), ("sigma_minus_0", G * (1 - mu))], particles=M
    )
    last = n - 1
    right = ChannelReservoir(
        "right", [(f"sigma_plus_{last}", G * (1 - mu)), (f"sigma_minus_{last}", G * (1 + mu))], particles=M
    )
    return Engine(chain, [left, right])


# two coupled oscillators between two baths (linear bosonic network)


def coupled_oscillators(g, flavour, w=2.0, T_h=0.5, T_c=0.25, kappa=0.01, n_max=7):
    """Two resonant oscillators H = w (a^dag a + b^dag b) + g (a^dag b + b^dag a), each on its own flat bath.

    The baths couple through x = a + a^dag (hot, site 0) and b + b^dag (cold, site 1) with J(w) = kappa.
    n_max = 7 keeps the top Fock level below 1e-6 for the occupations used (n <= 0.16).
    """
    from engines import HarmonicOscillator

    medium = Composite(
        [HarmonicOscillator(w, n_max), HarmonicOscillator(w, n_max)], [(g, [("a_dag", 0), ("a", 1)])]
    )
    baths = [BosonicBath("hot", T_h, kappa, "a", site=0), BosonicBath("cold", T_c, kappa, "a", site=1)]
    return Engine(medium, baths, flavour)


def coupled_oscillators_exact_heat(g, w=2.0, T_h=0.5, T_c=0.25, kappa=0.01):
    """Exact NESS heat current from the hot bath for two coupled oscillators (Landauer formula).

    For an excitation-conserving linear network whose oscillators j exchange excitations with
    wide-band baths of rate kappa (quantum Langevin equations da_j/dt = -i[a_j, H] - (kappa/2) a_j
    - sqrt(kappa) b_in,j, <b_in,j^dag(w) b_in,j(w')> = n_j(w) delta(w - w'); C. W. Gardiner and
    M. J. Collett, Phys. Rev. A 31, 3761 (1985)), the stationary solution a(w) = -sqrt(kappa) G(w)
    b_in(w) with G(w) = (w - h + i kappa/2)^{-1}, h = [[w, g], [g, w]], gives the energy current
    from bath 1 (the Landauer-like form of Hofer et al., NJP 19, 123037 (2017), Sec. 5):

        J_h = int dw/(2 pi) w kappa^2 |G_12(w)|^2 [n_h(w) - n_c(w)]

    The integral is taken over 0 < w < w + g + 2 + 60 T_h (the wide band's w < 0 part and the tail
    beyond, suppressed by kappa^2 / w^4 and exp(-60), are below 1e-9 of J here).  This is
    exact in g and kappa (no Born, Markov or secular step); the master equations approximate it to
    first order in kappa.
    """
    from scipy.integrate import quad

    h = np.array([[w, g], [g, w]])

    def integrand(x):
        G = np.linalg.inv(x * np.eye(2) - h + 0.5j * kappa * np.eye(2))
        return x * kappa**2 * abs(G[0, 1]) ** 2 * (bose(x, T_h) - bose(x, T_c)) / (2 * np.pi)

    peaks = sorted({w - g, w + g})
    top = w + g + 2.0 + 60.0 * T_h
    return quad(integrand, 1e-12, top, points=peaks, limit=1000, epsabs=0.0, epsrel=1e-11)[0]


# ---------------------------------------------------------------------------------------------
# a three-level machine whose Redfield steady state is not positive


def redfield_nonpositive(flavour="redfield"):
    """Three levels 0.017, 0.041, 0.270 strongly coupled (kappa = 0.70) to two baths (T = 0.05 and 0).

    Bath couplings comparable to all the level spacings: Born-Markov fails, and the Redfield steady
    state has a negative eigenvalue of order one (found by a random search; QuTiP's Redfield tensor
    gives the same state).
    """
    from engines import Custom

    H = np.diag([0.016527635528529094, 0.04097352393619469, 0.2697867137638703])
    A = np.array(
        [
            [-1.071338746322222, 1.308676018038727, 0.680725582592785],
            [1.308676018038727, -1.4074704716139852, -1.224095491698809],
            [0.680725582592785, -1.224095491698809, -4.650061549277669],
        ]
    )
    B = np.array(
        [
            [-0.43758332786509146, -1.790169930110375, 0.310246014739226],
            [-1.790169930110375, -0.6326003127383091, 0.28309587343009857],
            [0.310246014739226, 0.28309587343009857, 2.7329269410993717],
        ]
    )
    kappa = 0.7035619732242673
    baths = [BosonicBath("h", 0.05, kappa, A, "ohmic"), BosonicBath("c", 0.0, kappa, B, "flat")]
    return Engine(Custom(lambda: H), baths, flavour), H, A, B, kappa
