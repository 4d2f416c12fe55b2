"""The ``dinov2`` protocol equals DINOv2's own evaluation code, run unchanged on the same
embeddings (tests/dinov2_reference.py): k-NN top-1 and top-5 for every k (``KnnModule`` and
its torchmetrics accuracy), the log-regression protocol's chosen C and accuracy
(``eval_log_regression`` with scikit-learn's estimator).

The embeddings' neighbours are not tied: well-separated synthetic clusters, and the CLS tokens
of a random ViT whose tokens differ per image (LayerScale 1; the test config's model).
"""

import numpy as np
import pytest
import torch
from threadpoolctl import threadpool_limits

pytest.importorskip("omegaconf")  # dinov2.eval imports it (requirements-dev.txt)
import dinov2_reference  # noqa: E402
from conftest import HUB_FIXTURE  # noqa: E402

from fmeval.classify.knn import knn_accuracy, knn_predict  # noqa: E402
from fmeval.classify.logreg import dinov2_c_grid, dinov2_log_regression, dinov2_split  # noqa: E402

if not dinov2_reference.DINOV2.is_dir():
    pytest.skip(f"{dinov2_reference.DINOV2} is absent", allow_module_level=True)

KS = [1, 3, 10, 20, 100, 200]


def clusters(n_classes=8, per_class=40, n_test=120, dim=24, spread=1.2, seed=0):
    """Class clusters on the sphere, separated but overlapping (accuracy below 100)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n_classes, dim))
    y_train = np.repeat(np.arange(n_classes), per_class)
    y_test = rng.integers(0, n_classes, n_test)
    x_train = centres[y_train] + spread * rng.normal(size=(len(y_train), dim))
    x_test = centres[y_test] + spread * rng.normal(size=(n_test, dim))
    return x_train.astype(np.float32), y_train, x_test.astype(np.float32), y_test


def vit_cls_tokens(n_classes=6, per_class=30, seed=0):
    """Normed CLS tokens of the test hub's ViT-S/14 with LayerScale 1 (random init) on
    images of ``n_classes`` colour/texture classes; the first 2/3 of each class train."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("hub_fixture", HUB_FIXTURE / "hubconf.py")
    hub = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hub)
    torch.manual_seed(0)
    model = hub.vits14_layerscale1(pretrained=False).eval()
    rng = np.random.default_rng(seed)
    base = rng.normal(size=(n_classes, 3, 28, 28))
    labels = np.repeat(np.arange(n_classes), per_class)
    x = 0.3 * base[labels] + rng.normal(size=(len(labels), 3, 28, 28))
    with torch.inference_mode():
        ((_, cls),) = model.get_intermediate_layers(
            torch.as_tensor(x, dtype=torch.float32), n=1, return_class_token=True, norm=True
        )
    train = (np.arange(len(labels)) % per_class) < per_class * 2 // 3
    cls = cls.numpy()
    return cls[train], labels[train], cls[~train], labels[~train]


def reference_knn(x_train, y_train, x_test, y_test, ks, temperature=0.07):
    """{k: (top-1 count, top-5 count)} from DINOv2's KnnModule and its accuracy metric."""
    knn = dinov2_reference.import_dinov2("eval.knn")
    metrics = dinov2_reference.import_dinov2("eval.metrics")
    dinov2_reference.process_group()
    n_classes = int(y_train.max()) + 1
    normalise = torch.nn.functional.normalize  # ModelWithNormalize: the features' L2 norm
    module = knn.KnnModule(
        train_features=normalise(torch.as_tensor(x_train), dim=1, p=2),
        train_labels=torch.as_tensor(y_train),
        nb_knn=ks,
        T=temperature,
        device=torch.device("cpu"),
        num_classes=n_classes,
    )
    test = normalise(torch.as_tensor(x_test), dim=1, p=2)
    probas = module(test)
    out = {}
    for k in ks:
        m = metrics.build_topk_accuracy_metric(
            metrics.AccuracyAveraging.MEAN_ACCURACY, num_classes=n_classes
        )
        m.update(preds=probas[k], target=torch.as_tensor(y_test))
        r = m.compute()
        out[k] = tuple(round(float(r[f"top-{n}"]) * len(y_test)) for n in (1, 5))
    return out


def fmeval_knn(x_train, y_train, x_test, y_test, ks, temperature=0.07):
    n_classes = int(y_train.max()) + 1
    ranked = knn_predict(
        x_train,
        y_train,
        x_test,
        ks=ks,
        temperature=temperature,
        n_classes=n_classes,
        vote="dinov2",
    )
    out = {}
    for k in ks:
        top1, top5 = knn_accuracy(ranked[k], y_test, k, vote="dinov2")
        out[k] = (round(top1 * len(y_test) / 100), round(top5 * len(y_test) / 100))
    return out


@pytest.mark.parametrize("data", ["clusters", "vit"])
def test_knn_equals_dinov2_for_every_k(data):
    x_train, y_train, x_test, y_test = clusters() if data == "clusters" else vit_cls_tokens()
    ks = [k for k in KS if k <= len(x_train)]
    got = fmeval_knn(x_train, y_train, x_test, y_test, ks)
    expected = reference_knn(x_train, y_train, x_test, y_test, ks)
    assert got == expected
    counts = [c for pair in got.values() for c in pair]
    assert 0 < min(counts) and max(got[k][0] for k in ks) < len(y_test)  # neither 0 nor all
    assert len({got[k][0] for k in ks}) > 1  # k matters: the comparison is not vacuous


def test_a_small_chunk_gives_the_same_votes():
    x_train, y_train, x_test, y_test = clusters(seed=3)
    n = int(y_train.max()) + 1
    kw = {"ks": [10, 20], "temperature": 0.07, "n_classes": n, "vote": "dinov2"}
    whole = knn_predict(x_train, y_train, x_test, **kw)
    chunked = knn_predict(x_train, y_train, x_test, chunk_bytes=4096, **kw)
    for k in (10, 20):
        np.testing.assert_array_equal(whole[k], chunked[k])


def test_the_c_grid_and_split_are_dinov2s():
    log_regression = dinov2_reference.import_dinov2("eval.log_regression")
    assert dinov2_c_grid() == [c.item() for c in 10**log_regression.C_POWER_RANGE]
    torch.manual_seed(0)  # as eval_log_regression draws its 10%
    indices = torch.randperm(157)
    fit, val = dinov2_split(157)
    np.testing.assert_array_equal(val, indices[:15].numpy())
    np.testing.assert_array_equal(fit, indices[15:].numpy())


def reference_log_regression(x_train, y_train, x_test, y_test):
    """DINOv2's eval_log_regression (no fine-tuning set: C on 10% of the training rows)."""
    log_regression = dinov2_reference.import_dinov2("eval.log_regression")
    metrics = dinov2_reference.import_dinov2("eval.metrics")
    dinov2_reference.process_group()
    data = torch.utils.data.TensorDataset
    # one BLAS thread, as fmeval fits small problems (the same arithmetic, no spinning threads)
    with dinov2_reference.on_cpu(), threadpool_limits(limits=1, user_api="blas"):
        stats = log_regression.eval_log_regression(
            model=torch.nn.Identity(),
            train_dataset=data(torch.as_tensor(x_train), torch.as_tensor(y_train)),
            val_dataset=data(torch.as_tensor(x_test), torch.as_tensor(y_test)),
            finetune_dataset=None,
            metric_type=metrics.MetricType.MEAN_ACCURACY,
            batch_size=64,
            num_workers=0,
        )
    return stats["best_C"], float(stats["top-1"]) * 100, float(stats["top-5"]) * 100


@pytest.mark.parametrize("data", ["clusters", "vit"])
def test_log_regression_equals_dinov2(data):
    if data == "clusters":
        x_train, y_train, x_test, y_test = clusters(per_class=12, n_test=48, dim=8, spread=2.5)
    else:
        x_train, y_train, x_test, y_test = vit_cls_tokens(per_class=12)
    best_c, top1, top5 = reference_log_regression(x_train, y_train, x_test, y_test)
    got = dinov2_log_regression(x_train, y_train, x_test, y_test)
    assert got.best_c == best_c
    assert got.test_top1 == pytest.approx(top1, abs=1e-4)
    assert got.test_top5 == pytest.approx(top5, abs=1e-4)
    assert 0 < got.test_top1 < 100
    assert sum(r["selected"] for r in got.rows) == 1 and len(got.rows) == 45
