"""The one place that imports cdktf and the prebuilt providers.

Why this module exists:

* **Synth speed and memory.** `import cdktf_cdktf_provider_aws` runs a package `__init__` that
  imports all ~2,200 resource submodules, and the jsii kernel (node) `require`s all of their
  JavaScript too (together 25-40 s, ~1.3-1.6 GB). On the Python side we register a bare package
  object, so `aws.vpc` imports only the `vpc` submodule (each still loads the jsii assembly
  through `.._jsii`, so behaviour is unchanged). On the node side `jsii_lazy_index.js` is
  preloaded into the kernel and turns the provider index's eager `require`s into getters.
  `bench/synth.py` measures both against the usual import; `HEBO_CONVENTIONAL_IMPORTS=1`
  switches both off.
* **Two flavours, one switch.** cdktf 0.21 is HashiCorp's final release; CDK Terrain (`cdktn`,
  `cdktn_provider_aws`) is the maintained continuation. `HEBO_CDK` picks the binding (`cdktf`,
  the default, or `cdktn`; `modules.cdk_flavour.FLAVOURS`); each has its own locked environment
  (the root Pipfile, or flavours/cdktn/Pipfile), which `make` selects by the same variable.
  Nothing else imports either binding (tests/unit/test_imports.py). docs/cdk-terrain.md: migrating.
* **Provider versions are chosen, not inherited from the binding.** Every stack's
  `required_providers` pins `PROVIDER_VERSIONS` (modules/cdk_flavour.py) on both flavours
  (`pin_provider_version`): a binding is generated for one provider release, but upgrading the
  provider is its own, reviewed change.
* **Import order.** The kernel settings above only apply if this module is imported before any
  jsii package (cdktf, constructs, providers). When it is not, for example in a test file that
  starts with `from cdktf import Testing`, the app still builds: the node-side settings are
  skipped and a `JsiiKernelAlreadyRunning` warning says why synth is slower.
* **Clean output.** jsii prints an end-of-life banner with Node 20; we point it at the Node 22
  that `npm ci` installs into `node_modules/.bin` when the caller has not chosen one.

Usage: `from modules.cdk import aws, cdktf` then `aws.vpc.Vpc(...)`, `cdktf.TerraformStack`
(`cdktf` is the core module of the active flavour: the `cdktf` or the `cdktn` package).
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
import types
from pathlib import Path
from typing import Any

from modules.cdk_flavour import DEFAULT_FLAVOUR, FLAVOURS, PROVIDER_VERSIONS, CdkFlavourError, Flavour, flavour_name

_REPO_ROOT = Path(__file__).resolve().parent.parent
_LOCAL_NODE = _REPO_ROOT / "node_modules" / ".bin" / "node"

FLAVOUR = FLAVOURS[flavour_name()]
CORE_PACKAGE = FLAVOUR.core
AWS_PACKAGE = FLAVOUR.aws
DOCKER_PACKAGE = FLAVOUR.docker

_LAZY_INDEX_HOOK = Path(__file__).resolve().parent / "jsii_lazy_index.js"


def _conventional_imports() -> bool:
    return os.environ.get("HEBO_CONVENTIONAL_IMPORTS", "") not in ("", "0", "false")


def _configure_jsii_kernel(env: "os._Environ[str]") -> None:
    """Settings the node jsii kernel inherits; must run before the first jsii import."""
    if "JSII_NODE" not in env and _LOCAL_NODE.exists():
        env["JSII_NODE"] = str(_LOCAL_NODE)
    options = env.get("NODE_OPTIONS", "").split()
    # Node 22 warns that a dependency of the kernel uses util.isArray; keep synth output clean.
    wanted = ["--disable-warning=DEP0044"]
    if not _conventional_imports():
        wanted += ["--require", str(_LAZY_INDEX_HOOK)]
    if str(_LAZY_INDEX_HOOK) not in options:
        env["NODE_OPTIONS"] = " ".join(options + wanted)


class JsiiKernelAlreadyRunning(UserWarning):
    """modules.cdk was imported after a jsii package had started the node kernel."""


KERNEL_ALREADY_RUNNING = (
    "modules.cdk was imported after a jsii package (for example `from cdktf import Testing` at the "
    "top of a test file), so the jsii kernel is already running without the lazy provider index "
    "and the project's Node: the app still builds, but loading the AWS provider takes ~10 s longer "
    "and more memory. To avoid it, import `hebo_testing` (or `modules.cdk`) before cdktf, or keep the "
    "test under tests/, whose conftest.py does that."
)


def _jsii_kernel_running() -> bool:
    """True once any jsii assembly is loaded: its `<package>._jsii` module starts the kernel process
    (importing `jsii` alone does not)."""
    return any(name.endswith("._jsii") for name in sys.modules)


if _jsii_kernel_running():
    # Too late to set NODE_OPTIONS / JSII_NODE for the kernel: degrade (Python-side lazy imports
    # still apply) and say so once, instead of refusing to build the app.
    import warnings

    warnings.warn(KERNEL_ALREADY_RUNNING, JsiiKernelAlreadyRunning, stacklevel=2)
else:
    _configure_jsii_kernel(os.environ)


def _register_bare_package(name: str) -> types.ModuleType:
    """Put an empty package object for `name` into sys.modules so its `__init__` never runs."""
    existing = sys.modules.get(name)
    if existing is not None:
        return existing
    spec = importlib.util.find_spec(name)
    if spec is None or spec.submodule_search_locations is None:
        raise ImportError(f"{name} is not installed: run `make setup` (pipenv sync --dev)")
    package = types.ModuleType(name)
    package.__path__ = list(spec.submodule_search_locations)
    package.__spec__ = spec
    package.__file__ = spec.origin
    package.__package__ = name
    sys.modules[name] = package
    return package


class LazyProvider:
    """Attribute access imports one provider submodule: `aws.rds_cluster.RdsCluster`."""

    def __init__(self, package: str) -> None:
        self._package = package
        self._loaded = False

    def _load(self) -> None:
        if self._loaded:
            return
        if _conventional_imports():
            importlib.import_module(self._package)
        else:
            _register_bare_package(self._package)
        self._loaded = True

    def __getattr__(self, submodule: str) -> Any:
        if submodule.startswith("__"):
            raise AttributeError(submodule)
        self._load()
        module = importlib.import_module(f"{self._package}.{submodule}")
        setattr(self, submodule, module)
        return module


def _import_core(flavour: Flavour) -> types.ModuleType:
    if importlib.util.find_spec(flavour.core) is None:
        setup = "make setup" if flavour.name == DEFAULT_FLAVOUR else f"HEBO_CDK={flavour.name} make setup"
        raise CdkFlavourError(
            f"HEBO_CDK={flavour.name}: the {flavour.core} package is not installed in {sys.executable}: "
            f"run `{setup}` and use that flavour's virtualenv"
        )
    return importlib.import_module(flavour.core)


cdktf = _import_core(FLAVOUR)
constructs = importlib.import_module("constructs")
Construct = constructs.Construct
aws = LazyProvider(AWS_PACKAGE)
docker = LazyProvider(DOCKER_PACKAGE)


def pin_provider_version(provider: Any) -> Any:
    """Pin `provider`'s version in its stack's `terraform.required_providers` to
    `PROVIDER_VERSIONS[<its type>]` (instead of the version its binding was generated for);
    returns `provider`. Every provider the app creates goes through here.

    Raises `KeyError` for a provider type with no chosen version (add it to PROVIDER_VERSIONS).
    """
    name = provider.terraform_resource_type
    cdktf.TerraformStack.of(provider).add_override(
        f"terraform.required_providers.{name}.version", PROVIDER_VERSIONS[name]
    )
    return provider


# The core names the code base uses, re-exported so call sites stay short.
App = cdktf.App
Aspects = cdktf.Aspects
Annotations = cdktf.Annotations
Fn = cdktf.Fn
S3Backend = cdktf.S3Backend
CloudBackend = cdktf.CloudBackend
LocalBackend = cdktf.LocalBackend
NamedCloudWorkspace = cdktf.NamedCloudWorkspace
DataTerraformRemoteStateS3 = cdktf.DataTerraformRemoteStateS3
TerraformStack = cdktf.TerraformStack
TerraformOutput = cdktf.TerraformOutput
TerraformVariable = cdktf.TerraformVariable
TerraformVariableValidationConfig = cdktf.TerraformVariableValidationConfig
TerraformLocal = cdktf.TerraformLocal
TerraformAsset = cdktf.TerraformAsset
AssetType = cdktf.AssetType
TerraformResourceLifecycle = cdktf.TerraformResourceLifecycle
TerraformIterator = cdktf.TerraformIterator
TerraformCount = cdktf.TerraformCount
TerraformElement = cdktf.TerraformElement
Token = cdktf.Token
Testing = cdktf.Testing
# pytest would try to collect the class `Testing` from every test module that imports it (name
# starts with "Test") and warn that it cannot; it holds no tests.
Testing.__test__ = False

__all__ = [
    "Construct",
    "PROVIDER_VERSIONS",
    "pin_provider_version",
    "aws",
    "docker",
    "cdktf",
    "App",
    "Aspects",
    "Annotations",
    "Fn",
    "S3Backend",
    "CloudBackend",
    "LocalBackend",
    "NamedCloudWorkspace",
    "DataTerraformRemoteStateS3",
    "TerraformStack",
    "TerraformOutput",
    "TerraformVariable",
    "TerraformVariableValidationConfig",
    "TerraformLocal",
    "TerraformAsset",
    "AssetType",
    "TerraformResourceLifecycle",
    "TerraformIterator",
    "TerraformCount",
    "TerraformElement",
    "Token",
    "Testing",
]
