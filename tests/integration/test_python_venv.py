#!/usr/bin/python3
"""Issue 12, acceptance 5: the Python package installed into a fresh virtual
environment, offline, and its tests run from there.

  * `python3 -m venv --system-site-packages` (python3-redis comes from Debian);
  * `pip install --no-index --no-build-isolation` of a copy of python/ (pip
    builds in the source directory: the tree stays clean), with Debian's
    setuptools and nothing downloaded;
  * the environment holds microcloud with py.typed, and the mcquery script
    (also `python -m microcloud`);
  * the package's tests, run by the environment's interpreter with
    MC_PYTHON_INSTALLED=1 (tests/lib/mcpy.py): the unit tests
    (tests/unit/python), test_python_client.py (mcquery is the installed
    script) and test_python_users.py (a probe exports users set through the
    installed package); each first checks that the microcloud it imported is
    the environment's, not python/ of the source tree.
"""
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import mctest  # noqa: E402

PYTHON = "/usr/bin/python3"
TESTS = [os.path.join("tests", "unit", "python", "test_microcloud.py"),
         os.path.join("tests", "integration", "test_python_client.py"),
         os.path.join("tests", "integration", "test_python_users.py"),
         os.path.join("tests", "unit", "python", "test_subscribers.py"),
         os.path.join("tests", "integration", "test_python_subscribers.py"),
         os.path.join("tests", "unit", "python", "test_flows.py")]


def run(args, **kw):
    p = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=kw.pop("timeout", 300), **kw)
    return p.returncode, p.stdout.decode("utf-8", "replace")


def main():
    if run([PYTHON, "-c", "import ensurepip, venv"])[0] != 0:
        mctest.skip("python3-venv is not installed (apt-get install python3-venv)")
    if run([PYTHON, "-c", "import redis, setuptools, wheel"])[0] != 0:
        mctest.skip("python3-redis, python3-setuptools and python3-wheel are needed (scripts/setup.sh)")
    c = mctest.Checker()
    work = tempfile.mkdtemp(prefix="mcvenv")
    try:
        src, venv = os.path.join(work, "src"), os.path.join(work, "venv")
        shutil.copytree(os.path.join(mctest.SRC, "python"), src,
                        ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
        rc, out = run([PYTHON, "-m", "venv", "--system-site-packages", venv])
        c.check(rc == 0, "python3 -m venv --system-site-packages: rc %d, %s" % (rc, out[-500:]))
        vpy = os.path.join(venv, "bin", "python")
        # offline: no index, no build isolation (which would fetch setuptools), no user configuration
        env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_") and k != "PYTHONPATH"}
        env.update(PIP_CONFIG_FILE=os.devnull, PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_INPUT="1",
                   http_proxy="http://127.0.0.1:9", https_proxy="http://127.0.0.1:9")
        rc, out = run([vpy, "-m", "pip", "install", "--no-index", "--no-build-isolation", src], cwd=work, env=env)
        c.check(rc == 0 and "Successfully installed microcloud" in out,
                "pip install --no-index --no-build-isolation ./python: rc %d, %s" % (rc, out[-1500:]))
        if rc != 0:
            c.done()
        rc, out = run([vpy, "-c", "import microcloud, os, sys; d = os.path.dirname(microcloud.__file__); "
                       "print(d); print(os.path.isfile(os.path.join(d, 'py.typed'))); print(microcloud.__version__)"],
                      cwd=work, env=env)
        lines = out.split()
        c.check(rc == 0 and len(lines) == 3 and lines[0].startswith(venv + os.sep) and lines[1] == "True",
                "the installed package: %r" % out[-500:])
        rc, out = run([vpy, "-m", "pip", "show", "microcloud"], cwd=work, env=env)
        c.check(rc == 0 and "Requires: redis" in out, "pip show microcloud: %r" % out[-300:])
        mcq = os.path.join(venv, "bin", "mcquery")
        rc, out = run([mcq, "--help"], cwd=work, env=env)
        c.check(rc == 0 and "--redis-auth-file" in out and "users" in out, "installed mcquery --help: %r" % out[-300:])
        rc, out = run([vpy, "-m", "microcloud", "--help"], cwd=work, env=env)
        c.check(rc == 0 and "mcquery" in out, "python -m microcloud --help: %r" % out[-300:])

        env.update(MC_PYTHON_INSTALLED="1", MC_SRC=mctest.SRC, MCPROBE=mctest.MCPROBE)
        for test in TESTS:
            rc, out = run([vpy, os.path.join(mctest.SRC, test)], cwd=work, env=env, timeout=900)
            tail = out.strip().splitlines()[-1:] or [""]
            print("%s (installed package): rc %d, %s" % (test, rc, tail[0]))
            if rc == mctest.SKIP:
                print("SKIP %s: %s" % (test, tail[0]))
                continue
            c.check(rc == 0, "%s with the installed package: rc %d\n%s" % (test, rc, out[-3000:]))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    c.done()


if __name__ == "__main__":
    main()
