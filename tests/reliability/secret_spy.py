"""Run a module (behave, the chaos soak) while writing down every secret it creates or sends.

    SECRET_SPY_FILE=spy.jsonl python tests/reliability/secret_spy.py -m behave <args>

The secret-hygiene test must know what to search for, but the values are born inside
the subprocess: every simulator key and secret (``KeyRing.create``) and every ``API-Sign``
the client computed (``Signer.sign``) is appended to the spy file, which the test then
excludes from the outputs it scans.
"""
from __future__ import annotations

import json
import os
import runpy
import sys

sys.path.insert(0, os.getcwd())  # run from the repository root: tools/, steps/, bench/ import from there

from krakenbot.client.signing import Signer
from krakensim.auth import KeyRing

_spy = open(os.environ["SECRET_SPY_FILE"], "a", encoding="utf-8")  # noqa: SIM115 - lives as long as the process


def _note(kind: str, value: str) -> None:
    _spy.write(json.dumps([kind, value]) + "\n")
    _spy.flush()


_create = KeyRing.create


def _spy_create(self, *args, **kwargs):
    key, secret = _create(self, *args, **kwargs)
    _note("key", key)
    _note("secret", secret)
    return key, secret


_sign = Signer.sign


def _spy_sign(self, *args, **kwargs):
    signature = _sign(self, *args, **kwargs)
    _note("sign", signature)
    return signature


KeyRing.create = _spy_create
Signer.sign = _spy_sign


def _keep_spec_tmpdirs(keep: str) -> None:
    """The spec deletes each scenario's temp dir (store, kill file); move it aside to be scanned."""
    import shutil
    import types

    from tools.spec_support import world

    def rmtree(path, ignore_errors=False, **kwargs):
        target = os.path.join(keep, os.path.basename(str(path).rstrip("/")))
        try:
            shutil.move(str(path), target)
        except OSError:
            if not ignore_errors:
                raise

    world.shutil = types.SimpleNamespace(**{**vars(shutil), "rmtree": rmtree})


if os.environ.get("SECRET_SPY_KEEP"):
    _keep_spec_tmpdirs(os.environ["SECRET_SPY_KEEP"])

if __name__ == "__main__":
    if sys.argv[1:2] != ["-m"] or len(sys.argv) < 3:
        raise SystemExit("usage: secret_spy.py -m <module> [args]")
    module = sys.argv[2]
    sys.argv = [module, *sys.argv[3:]]
    runpy.run_module(module, run_name="__main__", alter_sys=True)
