"""Deployment: a container build context and Kubernetes manifests made from a model version."""

from ._bundle import export_bundle as export_bundle
from ._image import ImageContext as ImageContext
from ._image import write_image_context as write_image_context
from ._k8s import K8sOptions as K8sOptions
from ._k8s import write_manifests as write_manifests
from ._requirements import Pin as Pin
from ._requirements import read_lock as read_lock
from ._requirements import runtime_pins as runtime_pins

__all__ = [
    "ImageContext",
    "K8sOptions",
    "Pin",
    "export_bundle",
    "read_lock",
    "runtime_pins",
    "write_image_context",
    "write_manifests",
]
