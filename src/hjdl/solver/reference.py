"""An independent reference for radial initial data: a one-dimensional quadrature.

For ``g(y) = φ(|y|²)`` and an isotropic metric ``A = a·I``, the Hopf–Cole expectation
``E[exp(−g(x + s Z)/eps)]``, ``s² = 2 eps t a``, depends on ``y = x + sZ`` only through
``|y|² = s² Q`` with ``Q`` noncentral chi-square (``d`` degrees of freedom, non-centrality
``|x|²/s²``). So

    u(x, t) = −eps log ∫_0^∞ f_Q(q) exp(−φ(s² q)/eps) dq,

a one-dimensional integral, computed here with SciPy's adaptive Gauss–Kronrod quadrature
(``scipy.integrate.quad``) over ``v = log q`` on the integrand in log space (shifted by its
maximum, split at the peak and at a few widths around it), with the density from SciPy's ``chi2.logpdf`` (central) or
the Bessel form ``½ e^{−(q+λ)/2} (q/λ)^{d/4−1/2} I_{d/2−1}(sqrt(λ q))`` through the exponentially
scaled ``scipy.special.ive`` (noncentral). This shares no code with :func:`hjdl.solve`: no
sampling, no torch, no LSE kernel. The error bound is quad's own estimate of the absolute error
of each piece, summed, relative to the integral, times eps (``|Δu| <= eps ΔI/I`` to first order),
plus the tail beyond the last piece bounded by the same shifted integrand's decay (counted in
quad's infinite-interval piece).
"""

from __future__ import annotations

import math

import numpy as np


def _log_density(q, d, nc):
    from scipy.special import ive
    from scipy.stats import chi2

    if nc == 0:
        return chi2.logpdf(q, d)
    v = d / 2 - 1
    z = np.sqrt(nc * q)
    with np.errstate(divide="ignore"):
        return (-math.log(2) - (q + nc) / 2 + (d / 4 - 0.5) * np.log(q / nc)
                + np.log(ive(v, z)) + z)


def radial_reference(phi, x_norm: float, d: int, eps: float, t: float = 1.0, a: float = 1.0):
    """``(u, bound)``: the Hopf–Cole value at a point of norm ``x_norm`` for ``g(y) = phi(|y|²)``
    (``phi`` takes a NumPy array of squared norms), metric ``a·I``, and an error bound on ``u``.

    Example:
        >>> import numpy as np
        >>> u, err = radial_reference(lambda r2: r2 / 2, 0.0, 3, eps=0.5)   # quadratic: closed form
        >>> bool(abs(u - 0.25 * 3 * np.log(3.0)) < 1e-12), err < 1e-12   # (eps d/2) log(1 + 2t)
        (True, True)
    """
    from scipy import integrate, optimize

    s2 = 2 * eps * t * a
    nc = float(x_norm) ** 2 / s2

    def logf(q):
        q = np.asarray(q, float)
        return _log_density(q, d, nc) - phi(s2 * q) / eps

    # integrate over v = log q: ∫ f(q) dq = ∫ f(e^v) e^v dv (no endpoint singularity at q = 0)
    def h(v):
        if not -700.0 < v < 700.0:   # q beyond float range: the integrand has long vanished there
            return -math.inf
        with np.errstate(all="ignore"):
            out = float(logf(math.exp(v))) + v
        return out if out == out else -math.inf

    # the peak (the integrand is unimodal for the data used here; the pieces below also cover it
    # if it is not), and a width from the curvature there (finite differences)
    res = optimize.minimize_scalar(lambda v: -h(v), bounds=(-60, 60), method="bounded",
                                   options={"xatol": 1e-12})
    vs = float(res.x)
    top = h(vs)
    step = 1e-3
    curv = (h(vs + step) - 2 * top + h(vs - step)) / step ** 2
    wl = min(max(1.0 / math.sqrt(max(-curv, 1e-12)), 1e-6), 5.0)
    edges = [vs + k * wl for k in (-40, -20, -10, -5, -2, 0, 2, 5, 10, 20, 40)]

    def f(v):
        return math.exp(h(v) - top)

    total, err = 0.0, 0.0
    pieces = [(-math.inf, edges[0]), *zip(edges[:-1], edges[1:]), (edges[-1], math.inf)]
    for lo, hi in pieces:
        val, e = integrate.quad(f, lo, hi, epsabs=0, epsrel=1e-13, limit=400)
        total, err = total + val, err + e
    u = -eps * (top + math.log(total))
    bound = eps * err / total + 4 * abs(u) * float(np.finfo(float).eps)
    return float(u), float(bound)
