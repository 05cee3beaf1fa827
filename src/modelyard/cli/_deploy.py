"""``modelyard deploy ...``: a container build context and Kubernetes manifests."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ._app import DbOpt, ProjectOpt, app, open_from_cli
from ._render import console

deploy_app = typer.Typer(help="Package a model version as a container image and run it on "
                              "Kubernetes.", no_args_is_help=True)
app.add_typer(deploy_app, name="deploy")

RefArg = Annotated[str, typer.Argument(
    metavar="MODEL", help="The version to deploy: fraud@champion, fraud/versions/3, fraud.")]
OutOpt = Annotated[Path, typer.Option("--out", "-o", help="Folder to write to.")]


@deploy_app.command()
def image(
    ref: RefArg,
    out: OutOpt,
    lock: Annotated[Path | None, typer.Option(
        help="Hash-pinned lock to pin from [requirements/dev.lock].")] = None,
    extra: Annotated[list[str] | None, typer.Option(
        help="modelyard extras to install [postgres, s3].")] = None,
    base: Annotated[str, typer.Option(help="Base image, by a fixed tag.")
                    ] = "python:3.11-slim",
    tag: Annotated[str | None, typer.Option(
        help="Image tag to suggest [modelyard-<model>:<version>].")] = None,
    project: ProjectOpt = None,
    db_url: DbOpt = None,
) -> None:
    """Write a container build context serving exactly this version: Dockerfile, pinned
    requirements with hashes, the model file (hash checked) in a bundled yard."""
    from ..deploy import write_image_context

    with open_from_cli(project, db_url) as yard:
        version = yard.models.get(ref)
        artifact = yard.store.artifacts.open_verified(version.blob_sha256)
        built = write_image_context(
            version, ref, artifact, out, project_dir=yard.settings.project_dir, lock=lock,
            extras=tuple(extra) if extra is not None else ("postgres", "s3"), base_image=base,
            tag=tag, source=yard.store.artifacts.url)
    console().print(f"[green]wrote[/] the build context of {version.ref} to {out} "
                    f"({built.requirements} pinned requirements); next: "
                    f"docker build -t {built.tag} {out}")


@deploy_app.command()
def k8s(
    ref: RefArg,
    out: OutOpt,
    image: Annotated[str, typer.Option(
        help="The image to run, by a fixed tag [modelyard-<model>:<version>].")] = "",
    replicas: Annotated[int, typer.Option(help="Server replicas at first.")] = 2,
    min_replicas: Annotated[int, typer.Option(help="Fewest replicas the autoscaler keeps.")] = 2,
    max_replicas: Annotated[int, typer.Option(help="Most replicas the autoscaler starts.")] = 10,
    namespace: Annotated[str, typer.Option(help="Namespace of every object.")] = "default",
    cpu: Annotated[str, typer.Option(help="CPU each server requests.")] = "500m",
    memory: Annotated[str, typer.Option(help="Memory each server requests and may use.")
                      ] = "1Gi",
    loop_cpu: Annotated[str, typer.Option(help="CPU the loop requests.")] = "1",
    loop_memory: Annotated[str, typer.Option(help="Memory the loop may use.")] = "2Gi",
    name: Annotated[str | None, typer.Option(
        help="Base name of the objects [the model's name].")] = None,
    project: ProjectOpt = None,
    db_url: DbOpt = None,
) -> None:
    """Write Kubernetes manifests: Deployment, Service, autoscaler, disruption budget,
    ConfigMap, and a Deployment running the loop."""
    from ..deploy import K8sOptions, write_manifests

    with open_from_cli(project, db_url) as yard:
        version = yard.models.get(ref)
        options = K8sOptions(
            image=image or f"modelyard-{version.model.lower()}:{version.version}",
            replicas=replicas, min_replicas=min_replicas, max_replicas=max_replicas,
            namespace=namespace, cpu=cpu, memory=memory, loop_cpu=loop_cpu,
            loop_memory=loop_memory, name=name)
        files = write_manifests(version, ref, out, options=options, settings=yard.settings)
    console().print(f"[green]wrote[/] {len(files)} files to {out} for {version.ref} "
                    f"(image {options.image}); next: see {files[-1]}")
