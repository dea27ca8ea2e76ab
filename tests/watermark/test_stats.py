import math

from scipy.stats import norm

from watermark.stats import binomial_sf, holm, z_score


def test_binomial_tail_is_exact_and_normal_underestimates():
    # P[X >= 3 | n=3, p=0.5] = 1/8
    assert math.isclose(binomial_sf(3, 3, 0.5), 0.125)
    assert binomial_sf(0, 10, 0.25) == 1.0
    # at z ~= 5 with gamma = 0.25 the normal tail is too small by several times
    n, gamma = 200, 0.25
    k = math.ceil(gamma * n + 5 * math.sqrt(n * gamma * (1 - gamma)))
    exact, approx = binomial_sf(k, n, gamma), norm.sf(z_score(k, n, gamma))
    assert exact > 2 * approx


def test_holm_matches_hand_computation():
    rejected, adjusted = holm([0.01, 0.04, 0.03, 0.005], alpha=0.05)
    # sorted: 0.005*4=0.02, 0.01*3=0.03, 0.03*2=0.06 (stop), 0.04*1 -> monotone 0.06
    assert rejected == [True, False, False, True]
    assert [round(a, 6) for a in adjusted] == [0.03, 0.06, 0.06, 0.02]
    assert holm([], 0.05) == ([], [])
