"""Protocols for random starts (lib.protocols, the options of lib.training.train and the TopK revival) and the chapter's sweeps."""

import numpy as np
import pytest

from lib import autoencoder, baselines, protocols, training
from lib.experiments import random_starts as rs
from lib.model import SparseCodingModel

TIER = {"n": 24, "h": 48, "k": 2, "eps": 0.7}


@pytest.fixture
def model():
    return SparseCodingModel.gaussian(24, 48, np.log(2) / np.log(48), np.random.default_rng(0))


def test_activity_matches_the_encoder(model):
    rng = np.random.default_rng(1)
    W, Y = rng.standard_normal((48, 24)), model.sample(100, rng)[1]
    seen = protocols.activity(W, Y, 0.5)
    R = autoencoder.encode(W, Y, 0.5)
    np.testing.assert_array_equal(seen.fired, np.count_nonzero(R, axis=1))
    np.testing.assert_allclose(seen.residuals, (Y - W.T @ R).T)


def test_duplicate_units_keeps_the_strongest_of_each_cluster():
    W = np.eye(4, 6)
    W = np.vstack([W, 2 * W[0], -0.5 * W[1]])  # row 4 duplicates row 0 (longer), row 5 duplicates row 1 (shorter, flipped)
    np.testing.assert_array_equal(protocols.duplicate_units(W, 0.9), [0, 5])
    np.testing.assert_array_equal(protocols.duplicate_units(W, 0.9, weight=np.arange(6.0)), [0, 1])
    with pytest.raises(ValueError, match="threshold"):
        protocols.duplicate_units(W, 1.5)


def test_split_separates_a_blend_of_two_atoms():
    n = 8
    a, b = np.eye(n)[0], np.eye(n)[1]
    W = np.vstack([(a + b) / np.sqrt(2), np.eye(n)[2], np.zeros(n)])
    Y = np.column_stack([a, 1.5 * a, b, 2 * b, a + b]).astype(float)
    seen = protocols.activity(W, Y, 0.3)
    out = protocols.split_units(W, np.array([[0, 2]]), seen)
    unit = out[[0, 2]] / np.linalg.norm(out[[0, 2]], axis=1, keepdims=True)
    assert np.all(np.abs(unit @ np.column_stack([a, b])).max(axis=0) > 0.999)  # one half per atom (it starts at 0.707)
    np.testing.assert_allclose(np.linalg.norm(out[[0, 2]], axis=1), 1.0)  # the blend's length
    np.testing.assert_array_equal(out[1], W[1])


def test_resample_units_points_new_rows_at_the_worst_residuals():
    W = np.vstack([2 * np.eye(3), np.zeros((1, 3))])
    residuals = np.array([[0.0, 0.0, 0.1], [3.0, 4.0, 0.0]])
    out = protocols.resample_units(W, np.array([3]), residuals)
    np.testing.assert_allclose(out[3], 2 * np.array([0.6, 0.8, 0.0]))  # median norm of the others, direction of the worst
    np.testing.assert_array_equal(out[:3], W[:3])
    with pytest.raises(ValueError, match="units"):
        protocols.resample_units(W, np.array([0, 1, 2]), residuals)


def test_widen_and_prune(model):
    rng = np.random.default_rng(2)
    W = protocols.widen(model.A.T, np.vstack([1.01 * model.A.T[:3], np.zeros((2, 24))]))
    assert W.shape == (53, 24)
    kept = protocols.prune(W, model.sample(2000, rng)[1], 0.5, 48)
    assert kept.shape == (48, 24)
    assert np.all(np.linalg.norm(kept, axis=1) > 0)  # silent rows went first
    with pytest.raises(ValueError, match="h"):
        protocols.prune(W, model.sample(10, rng)[1], 0.5, 60)


def test_resample_validates_and_schedules():
    rule = protocols.Resample(every=10, until=0.5)
    assert [t for t in range(100) if rule.due(t, 100)] == [9, 19, 29, 39, 49]
    for bad in ({"every": 0}, {"until": 0.0}, {"probe": 0}, {"duplicates": 1.2}, {"rare": -0.1}, {"split": 0.5}):
        with pytest.raises(ValueError):
            protocols.Resample(**bad)
    with pytest.raises(ValueError, match="every"):
        protocols.Resample(every=2.5)
    with pytest.raises(TypeError, match="every"):
        protocols.Resample(every=True)


@pytest.mark.parametrize("name", ["rmsprop", "adam"])
def test_optimizer_reset_gives_rows_the_others_mean(name):
    opt = training.make_optimizer(name, 1e-2)
    opt(np.arange(12.0).reshape(4, 3))
    opt.reset(np.array([0]))
    np.testing.assert_allclose(opt._v[0], opt._v[1:].mean(axis=0))
    opt.reset(np.array([2]), axis=1)
    np.testing.assert_allclose(opt._v[:, 2], opt._v[:, :2].mean(axis=1))


def test_train_options_wider_layer_row_norm_and_resampling(model):
    rng = np.random.default_rng(3)
    W0 = rng.standard_normal((60, 24))
    W0 /= np.linalg.norm(W0, axis=1, keepdims=True)
    common = dict(steps=40, batch_size=128, lr=5e-3, progress=False, evaluate_every=40)
    wide = training.train(model, W0, 0.7, np.random.default_rng(4), **common)
    assert wide.W.shape == (60, 24)
    normed = training.train(model, W0, 0.7, np.random.default_rng(4), row_norm=1.2, **common)
    np.testing.assert_allclose(np.linalg.norm(normed.W, axis=1), 1.2)
    dead = 3 * W0[:48]
    dead[:10] = 0.0  # zero rows never fire and get a zero gradient: silent for ever without resampling
    rule = protocols.Resample(every=10, until=1.0, probe=512)
    plain = training.train(model, dead, 0.7, np.random.default_rng(5), **common)
    fixed = training.train(model, dead, 0.7, np.random.default_rng(5), resample=rule, **common)
    Y = model.sample(1000, rng)[1]
    silent = [int(np.sum(protocols.activity(r.W, Y, 0.7).fired == 0)) for r in (plain, fixed)]
    assert silent[0] >= 10 and silent[1] < 10
    with pytest.raises(TypeError, match="resample"):
        training.train(model, dead, 0.7, rng, resample=3, **common)
    with pytest.raises(TypeError, match="train_set"):
        training.train(model, dead, 0.7, rng, train_set=np.ones((3, 3)), **common)
    with pytest.raises(ValueError, match="row_norm"):
        training.train(model, dead, 0.7, rng, row_norm=0.0, **common)
    with pytest.raises(ValueError, match="W0 rows"):
        training.train(model, dead[:40], 0.7, rng, **common)


def test_polish_continues_the_run_at_the_raised_bias(model):
    rng = np.random.default_rng(20)
    W0 = model.A.T + 0.3 * rng.standard_normal((48, 24)) / np.sqrt(24)
    common = dict(steps=30, batch_size=128, lr=5e-3, progress=False, evaluate_every=10)
    main = training.train(model, W0, 0.4, np.random.default_rng(21), **common)
    rule = protocols.Polish(steps=20, bias_factor=2.0, learning_rate=1e-3)
    polished = training.train(model, W0, 0.4, np.random.default_rng(21), polish=rule, **common)
    np.testing.assert_array_equal(polished.main.W, main.W)  # the same main run, then the phase
    np.testing.assert_array_equal(polished.main.history.steps, main.history.steps)  # the main phase ran to its end
    assert main.main is None and not np.array_equal(polished.W, main.W)
    np.testing.assert_array_equal(polished.history.steps, [0, 10, 20, 30, 35, 40, 45, 50])
    np.testing.assert_allclose(polished.history.eps, [0.4] * 4 + [0.8] * 4)  # the bias of each checkpoint
    assert polished.recovery.mcc == pytest.approx(polished.history.mcc[-1])
    with pytest.raises(TypeError, match="polish"):
        training.train(model, W0, 0.4, rng, polish=1.6, **common)
    for bad in ({"steps": 0}, {"bias_factor": 0.0}, {"learning_rate": -1.0}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            protocols.Polish(**bad)


def test_near_misses_finds_units_off_their_atom_and_their_false_fires(model):
    W = model.A.T.copy()
    W[0] = 0.97 * model.A[:, 0] + np.sqrt(1 - 0.97**2) * model.A[:, 1]  # a near miss leaning on atom 1
    W[2] = model.A[:, 3] + model.A[:, 4]  # a blend: atom 2 is missed, and not nearly
    data = training.draw_batch(model, 4000, np.random.default_rng(22))
    found = rs.near_misses(model.A, W, data, 0.3, 3.0)
    assert found["misses"] >= 2 and 0 in found["near_atoms"] and 2 not in found["near_atoms"]
    assert rs.NEAR_MISS <= found["lowest"] <= 0.99
    assert 0 < found["false_raised"] < found["false_eps"] < 1  # unit 0 also fires on atom 1's samples, less at a higher bias
    clean = rs.near_misses(model.A, model.A.T, data, 0.3, 3.0)
    assert clean["misses"] == clean["near"] == 0 and np.isnan(clean["lowest"]) and np.isnan(clean["false_eps"])
    with pytest.raises(ValueError, match="data"):
        rs.near_misses(model.A, W, training.draw_batch(SparseCodingModel.gaussian(12, 24, 0.2, np.random.default_rng(0)),
                                                       10, np.random.default_rng(0)), 0.3, 3.0)


def test_train_on_a_given_set_uses_only_it(model):
    data = training.draw_batch(model, 64, np.random.default_rng(6))
    common = dict(steps=5, batch_size=64, progress=False, evaluate_every=5, eval_set=data)
    a = training.train(model, model.A.T, 0.7, np.random.default_rng(7), train_set=data, **common)
    b = training.train(model, model.A.T, 0.7, np.random.default_rng(8), train_set=data, **common)
    np.testing.assert_array_equal(a.W, b.W)  # full batch: the rng plays no part


def test_topk_revival_revives_dead_latents(model):
    rng = np.random.default_rng(9)
    W0 = rng.standard_normal((48, 24))
    common = dict(steps=60, batch_size=256, lr=3e-3, progress=False)
    plain = baselines.topk_autoencoder(model, W0, np.random.default_rng(10), **common)
    revived = baselines.topk_autoencoder(model, W0, np.random.default_rng(10),
                                         resample=protocols.Resample(every=10, until=0.8, probe=1024), **common)
    assert revived.dead <= plain.dead
    data = training.draw_batch(model, 300, np.random.default_rng(11))
    fixed = baselines.topk_autoencoder(model, W0, np.random.default_rng(12), data=data, **common)
    assert fixed.atoms.shape == (48, 24)
    with pytest.raises(TypeError, match="resample"):
        baselines.topk_autoencoder(model, W0, rng, resample="yes", **common)
    with pytest.raises(TypeError, match="data"):
        baselines.arora_neural(model, W0, rng, data=np.ones((2, 2)), steps=2)


def test_ablation_task_is_deterministic_and_validated():
    params = dict(tier=TIER, steps=20, batch_size=64, eval_size=128)
    for protocol in rs.PROTOCOLS:
        row = rs.ablation_task(0, protocol=protocol, **params)
        polished = {"frac99_before", "mcc_before", "dead_before", "cpu_seconds_before", "cosines_before", "misses_before",
                    "near_before", "lowest_before", "false_eps_before", "false_raised_before", "near_atoms_before",
                    "near_after"} if protocol.endswith("polish") else set()
        assert set(row) == {"tier", "protocol", "seed", "frac99", "mcc", "dead", "cpu_seconds", "cosines"} | polished
        assert 0 <= row["frac99"] <= 1
    first, again = (rs.ablation_task(1, protocol="resample + split", **params) for _ in range(2))
    assert first["mcc"] == again["mcc"]
    polished = rs.ablation_task(1, protocol="resample + split + polish", **params)
    derived, same = rs.with_unpolished([polished])
    assert same == polished and derived["protocol"] == "resample + split"
    for key in ("frac99", "mcc", "dead"):  # the polish run's main run is the resample + split run
        assert derived[key] == first[key]
    np.testing.assert_array_equal(derived["cosines"], first["cosines"])
    with pytest.raises(ValueError, match="rows"):
        rs.with_unpolished([{"protocol": "resample + split + polish", "tier": "t", "seed": 0}])
    with pytest.raises(ValueError, match="protocol"):
        rs.ablation_task(0, protocol="magic", **params)
    tasks = rs.ablation_tasks([TIER], 2, steps=20, batch_size=64, eval_size=128, protocols_=["none", "TopK"])
    assert len(tasks) == 4
    own = rs.ablation_tasks([{**TIER, "protocols": ["none"]}], 2, steps=20, batch_size=64, eval_size=128)
    assert [t["protocol"] for t in own] == ["none", "none"] and "protocols" not in own[0]["tier"]
    table = rs.ablation_table(rs.run_tasks(rs.ablation_task, tasks, desc="t"))
    assert table.shape == (2, 5)


def test_min_samples_task_finds_a_size_or_nan():
    params = dict(ratio=0.5, k=2, eps=0.7, delta=0.2, steps=80, batch_size=256, start_factor=4, max_factor=64)
    row = rs.min_samples_task(0, h=96, method="tied ReLU AE", **params)
    assert row["method"] == "tied ReLU AE" and row["h"] == 96
    assert np.isnan(row["N_star"]) or 4 * 96 <= row["N_star"] <= 64 * 96
    never = rs.min_samples_task(1, h=96, method="tied ReLU AE", **{**params, "steps": 1})
    assert np.isnan(never["N_star"])
    assert [tried["N"] for tried in never["attempts"]] == [384, 768, 1536, 3072, 6144]  # 4h doubled up to the cap 64h
    curve = rs.recovery_curve([row, never])
    assert list(curve.columns) == ["method", "h", "seed", "N", "samples_per_atom", "fraction", "median_cos"]
    assert len(curve) == len(row["attempts"]) + 5 and curve[["fraction", "median_cos"]].stack().between(0, 1).all()
    assert curve["samples_per_atom"].iloc[-1] == 64 and curve["fraction"].iloc[-5:].max() < 0.99
    if np.isfinite(row["N_star"]):  # the success is among the attempts, and no smaller N tried succeeded
        by_N = {tried["N"]: tried["fraction"] for tried in row["attempts"]}
        assert by_N[int(row["N_star"])] >= 0.99 and all(f < 0.99 for N, f in by_N.items() if N < row["N_star"])
    misses = rs.misses_at_cap([row, never])
    assert len(misses) == 1 + int(np.isnan(row["N_star"])) and misses["N"].iloc[-1] == 64 * 96
    last_two = [tried["median_cos"] for tried in never["attempts"][-2:]]
    assert misses["change"].iloc[-1] == pytest.approx(last_two[1] - last_two[0])
    for func in (rs.recovery_curve, rs.misses_at_cap):
        with pytest.raises(ValueError, match="rows"):
            func([{"method": "tied ReLU AE", "h": 96, "seed": 0}])
        with pytest.raises(ValueError, match="once"):
            func([never, never])
    with pytest.raises(ValueError, match="method"):
        rs.min_samples_task(0, h=96, method="magic", **params)
    assert len(rs.min_samples_tasks([64, 128], 3, ["tied ReLU AE", "sklearn MBDL"], **params)) == 12


def test_fit_exponent_recovers_a_power_law():
    rng = np.random.default_rng(13)
    h = np.repeat([128.0, 256.0, 512.0, 1024.0], 3)
    N = 3 * h**1.5 * np.exp(0.05 * rng.standard_normal(h.size))
    b, low, high = rs.fit_exponent(h, N)
    assert low < 1.5 < high and abs(b - 1.5) < 0.1
    assert np.isnan(rs.fit_exponent(np.array([1.0, 2.0]), np.array([1.0, np.nan]))[0])
