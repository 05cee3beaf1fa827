"""Deployment: a container build context and Kubernetes manifests made from a model version."""

from ._k8s import K8sOptions as K8sOptions
from ._k8s import write_manifests as write_manifests

__all__ = ["K8sOptions", "write_manifests"]
