"""mcpy.py - where the Python tests take the microcloud package and mcquery from.

By default, the source tree (python/): importing this module puts it first
on sys.path, and MCQUERY runs python/mcquery with this interpreter.

With MC_PYTHON_INSTALLED=1 (set by tests/integration/test_python_venv.py,
which runs the tests with a virtual environment's interpreter), the installed
package: python/ is not put on the path, MCQUERY is the mcquery script pip
installed beside the interpreter, and check_installed() fails the test when
the package imported is not the one installed in that environment.
"""
import os
import sys

SRC = os.environ.get("MC_SRC", os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
PYDIR = os.path.join(SRC, "python")
INSTALLED = os.environ.get("MC_PYTHON_INSTALLED") == "1"

if INSTALLED:
    MCQUERY = [os.path.join(os.path.dirname(sys.executable), "mcquery")]
else:
    sys.path.insert(0, PYDIR)
    MCQUERY = [sys.executable, os.path.join(PYDIR, "mcquery")]


def check_installed():
    """Installed mode: the microcloud imported must live under this interpreter's prefix (the venv),
    not in the source tree; returns its directory."""
    import microcloud
    where = os.path.dirname(os.path.abspath(microcloud.__file__))
    if INSTALLED:
        prefix = os.path.abspath(sys.prefix)
        if not where.startswith(prefix + os.sep) or where.startswith(os.path.abspath(PYDIR)):
            print("FAIL: microcloud imported from %s, not from the environment %s" % (where, prefix))
            sys.exit(1)
        if not os.path.exists(MCQUERY[0]):
            print("FAIL: no mcquery installed at %s" % MCQUERY[0])
            sys.exit(1)
    return where
