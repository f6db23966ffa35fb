"""Broken answers to chapter 6's code exercise: each must fail its check with a hint."""

import keras


def _in_block(layer, prefix):
    return layer.name.startswith(prefix)


def _is_batch_norm(layer):
    return isinstance(layer, keras.layers.BatchNormalization)


def model_left_frozen(model, prefix):
    for layer in model.layers:
        layer.trainable = _in_block(layer, prefix) and not _is_batch_norm(layer)
    return model


def batch_norm_unfrozen(model, prefix):
    model.trainable = True
    for layer in model.layers:
        layer.trainable = _in_block(layer, prefix)
    return model


def rest_left_as_it_was(model, prefix):
    model.trainable = True
    for layer in model.layers:
        if _in_block(layer, prefix) and not _is_batch_norm(layer):
            layer.trainable = True
    return model


def everything_unfrozen(model, prefix):
    model.trainable = True
    return model


def model_unfrozen_last(model, prefix):
    for layer in model.layers:
        layer.trainable = _in_block(layer, prefix) and not _is_batch_norm(layer)
    model.trainable = True
    return model


def only_the_first_layer_of_the_block(model, prefix):
    model.trainable = True
    first = next(layer for layer in model.layers if _in_block(layer, prefix))
    for layer in model.layers:
        layer.trainable = layer is first
    return model


def nothing_done(model, prefix):
    return model


WRONG = {
    "pretrained.unfreeze": [
        model_left_frozen,
        batch_norm_unfrozen,
        rest_left_as_it_was,
        everything_unfrozen,
        model_unfrozen_last,
        only_the_first_layer_of_the_block,
        nothing_done,
    ],
}
