"""pip install . for genc's Python package (offline: `pip install --no-build-isolation .` with
Debian's python3-setuptools and python3-pip). The extension genc._genc is built by the same
CMake build as everything else (target genc_python: src/python/*.c linked against libgenc)
in build-pip/, then copied into the wheel next to python/genc/*.py."""
import glob
import os
import shutil
import subprocess
import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = os.path.dirname(os.path.abspath(__file__))


class CMakeExtension(build_ext):
    def build_extension(self, ext):
        build = os.path.join(ROOT, "build-pip", "cmake")
        jobs = os.environ.get("GENC_JOBS", "2")
        subprocess.check_call(["cmake", "-S", ROOT, "-B", build, "-DCMAKE_BUILD_TYPE=Release",
                               f"-DPython3_EXECUTABLE={sys.executable}"], stdout=subprocess.DEVNULL)
        subprocess.check_call(["cmake", "--build", build, "--target", "genc_python", "-j", jobs])
        built = glob.glob(os.path.join(build, "python", "genc", "_genc*.so"))
        if not built:
            raise RuntimeError("genc: the CMake build produced no _genc extension")
        dest = self.get_ext_fullpath(ext.name)
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        shutil.copyfile(built[0], dest)


setup(
    name="genc",
    version="0.1.0",
    description="genc: tensors, autograd and generative models in C, from Python",
    packages=["genc"],
    package_dir={"": "python"},
    package_data={"genc": ["py.typed", "*.pyi"]},  # the extension's type stubs (PEP 561)
    ext_modules=[Extension("genc._genc", sources=[])],
    cmdclass={"build_ext": CMakeExtension},
    options={"build": {"build_base": "build-pip"}, "egg_info": {"egg_base": "build-pip"}},
    python_requires=">=3.9",
)
