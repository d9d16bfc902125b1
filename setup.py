"""Builds fasstream and its compiled op library ``fasstream._C``.

A CUDAExtension when nvcc is found (CUDA_HOME, or /usr/local/cuda) or FORCE_CUDA=1; a CPU-only
CppExtension otherwise or when FASSTREAM_SKIP_CUDA=1. TORCH_CUDA_ARCH_LIST is honoured; when it
is unset and no GPU is visible, the build targets Hopper (9.0) instead of every architecture.
"""
import glob
import os

from setuptools import find_packages, setup

if "CUDA_HOME" not in os.environ and os.path.exists("/usr/local/cuda/bin/nvcc"):
    os.environ["CUDA_HOME"] = "/usr/local/cuda"

import torch  # noqa: E402  (CUDA_HOME must be set before cpp_extension reads it)
from torch.utils.cpp_extension import CUDA_HOME, BuildExtension, CppExtension, CUDAExtension  # noqa: E402


def _flag(name: str) -> bool:
    return os.environ.get(name, "0").lower() in ("1", "true", "yes")


def _with_cuda() -> bool:
    if _flag("FASSTREAM_SKIP_CUDA"):
        return False
    nvcc = CUDA_HOME is not None and os.path.exists(os.path.join(CUDA_HOME, "bin", "nvcc"))
    return _flag("FORCE_CUDA") or nvcc


def _wheel_cuda_includes() -> list[str]:
    """Header folders of the nvidia-* wheels that CUDA builds of torch install (cusparse.h, cublas_v2.h...).

    A minimal CUDA toolkit (nvcc and the runtime only) lacks the library headers ATen includes.
    """
    if os.path.exists(os.path.join(CUDA_HOME, "include", "cusparse.h")):
        return []
    try:
        import nvidia
    except ImportError:
        return []
    return sorted({d for p in nvidia.__path__ for d in glob.glob(os.path.join(p, "*", "include"))})


def extension():
    sources = sorted(glob.glob("csrc/*.cpp") + glob.glob("csrc/cpu/*.cpp"))
    # at::parallel_for is an OpenMP loop in the headers: without -fopenmp the CPU kernels run on one thread
    cxx = ["-O3", "-fopenmp"]
    link = ["-fopenmp"]
    if not _with_cuda():
        return CppExtension("fasstream._C", sources, extra_compile_args={"cxx": cxx}, extra_link_args=link)
    if not os.environ.get("TORCH_CUDA_ARCH_LIST") and not torch.cuda.is_available():
        os.environ["TORCH_CUDA_ARCH_LIST"] = "9.0"
    nvcc = ["-O3", "--use_fast_math", "-lineinfo", "--threads", "2"]
    return CUDAExtension(
        "fasstream._C",
        sources + sorted(glob.glob("csrc/cuda/*.cu")),
        include_dirs=_wheel_cuda_includes(),
        define_macros=[("WITH_CUDA", None)],
        extra_compile_args={"cxx": cxx, "nvcc": nvcc},
        extra_link_args=link,
    )


setup(
    packages=find_packages(include=["fasstream", "fasstream.*"]),
    ext_modules=[extension()],
    cmdclass={"build_ext": BuildExtension.with_options(use_ninja=True)},
)
