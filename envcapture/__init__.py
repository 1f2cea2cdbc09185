"""envcapture: record an ML environment into one manifest, and turn it back into a working environment."""

__version__ = "0.1.0"
SCHEMA_VERSION = 1


def __getattr__(name):
    # ``from envcapture import seed_everything`` in a training script loads only the small stdlib-only module,
    # never the command-line tool's dependencies.
    if name in ("seed_everything", "seed_worker", "dataloader_generator"):
        from envcapture import seed

        return getattr(seed, name)
    raise AttributeError(f"module 'envcapture' has no attribute {name!r}")
