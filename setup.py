"""Build of the compiled core, eventbatch._core.

Compiler directives and debug switches live here, in one place:
  EVENTBATCH_DEBUG=1     -O0 -g, assertions on, Cython line tracing off
  EVENTBATCH_SANITIZE=1  AddressSanitizer + UndefinedBehaviorSanitizer
                         (`make asan` runs the suite on such a build)
  EVENTBATCH_ANNOTATE=1  write ext/_core.html (cython -a) next to the source
"""
import os
import sys

from Cython.Build import cythonize
from setuptools import Extension, setup

debug = os.environ.get("EVENTBATCH_DEBUG") == "1"
sanitize = os.environ.get("EVENTBATCH_SANITIZE") == "1"

cflags = ["-std=gnu11", "-fno-strict-aliasing", "-Wall", "-Wno-unused-function",
          "-Wno-unreachable-code", "-Wno-unused-variable"]
ldflags = []
if debug or sanitize:
    cflags += ["-O1" if sanitize else "-O0", "-g3", "-UNDEBUG", "-fno-omit-frame-pointer"]
else:
    cflags += ["-O3"]
if sanitize:
    cflags += ["-fsanitize=address,undefined", "-fno-sanitize-recover=undefined"]
    ldflags += ["-fsanitize=address,undefined"]

ext = Extension(
    "eventbatch._core",
    sources=["ext/_core.pyx"],
    include_dirs=["ext"],
    define_macros=[("_GNU_SOURCE", None), ("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
    extra_compile_args=cflags,
    extra_link_args=ldflags,
    depends=[os.path.join("ext", f) for f in os.listdir("ext") if f.endswith((".h", ".pxi"))],
)

setup(
    ext_modules=cythonize(
        [ext],
        language_level=3,
        annotate=os.environ.get("EVENTBATCH_ANNOTATE") == "1",
        compiler_directives={
            "boundscheck": True,      # on globally; opt-outs are per function with a reason
            "wraparound": True,
            "embedsignature": True,
            "binding": False,
            "initializedcheck": True,
        },
    ),
)
