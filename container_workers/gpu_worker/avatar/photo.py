"""PHOTO_TO_AVATAR: the `photo_avatar` stage, and its fitting backend (a person's photo -> a rigged avatar of them).

MediaPipe finds the people (pose landmarks, segmentation); the chosen person's landmarks fit the parametric humanoid's
proportions, pose and clothing colours (`fit.py`); the humanoid is sculpted and skinned in the T or A rest pose, posed
as in the photo, and its outline slid onto the person's mask (`silhouette.py`, carried back to the rest pose through
the skin); the photo becomes the texture of what the camera saw and the rest is painted from the photo's regions
(`projection.py`). Outputs: the avatar in its rest pose, the same rig posed as in the photo, a thumbnail and an overlay
of the fit on the photo.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import cv2
import numpy as np

from container_workers.common.stage import BadInputError, Output, ProgressFn, StageResult, params_for
from container_workers.gpu_worker import generators, render
from container_workers.gpu_worker.avatar import body, fit, paint, projection, silhouette, skinning
from container_workers.gpu_worker.avatar.humanoid import Humanoid
from container_workers.gpu_worker.exchange import gltf
from container_workers.gpu_worker.image_to_3d.people import Person, clean, find_people
from container_workers.gpu_worker.image_to_3d.stage import load_image


@dataclasses.dataclass
class FittedAvatar:
    """A fitted avatar: the rest-pose and photo-pose meshes, their skeletons, texture, camera and how well it fits."""

    rest: gltf.Mesh
    posed: gltf.Mesh
    rest_skeleton: gltf.Skeleton
    posed_skeleton: gltf.Skeleton
    texture: np.ndarray
    camera: fit.Camera
    observation: fit.Observation
    iou: float


def silhouette_iou(positions: np.ndarray, faces: np.ndarray, camera: fit.Camera, mask: np.ndarray) -> float:
    """IoU of a posed mesh's silhouette seen through the photo's camera with a mask."""
    seen = render.silhouette(camera.pixels(positions) - 0.5, faces, mask.shape)
    return float((seen & mask).sum() / max((seen | mask).sum(), 1))


def fit_person(
    rgb: np.ndarray, person: Person, pose: str, target_triangles: int, texture_size: int, progress: ProgressFn
) -> FittedAvatar:
    """The rigged avatar of one person in a photo (who has pose landmarks)."""
    observation = fit.observe(rgb, person)
    humanoid = Humanoid(observation.spec, pose)
    rigged = body.sculpt(humanoid, target_triangles, progress)
    progress(50, "posing as in the photo")
    rest_skeleton = humanoid.skeleton()
    world = fit.photo_pose(observation.points, observation.reliable)
    rotations = fit.local_quaternions(world, len(rest_skeleton.names))
    posed_skeleton = dataclasses.replace(rest_skeleton, rotations=rotations)
    posed_world = posed_skeleton.world_matrices()
    matrices = skinning.blend_matrices(rigged.joints, rigged.weights, rest_skeleton.world_matrices(), posed_world)
    posed = skinning.deform(rigged.vertices, matrices)
    camera = fit.fit_camera(posed_world[:, :3, 3], person, observation.reliable, observation.measured["pixelsPerMetre"])
    progress(58, "fitting the silhouette")
    axes = silhouette.bone_axes(posed, rigged.bones, rest_skeleton.names, rest_skeleton.parents, posed_world[:, :3, 3])
    move = silhouette.fit(posed, rigged.faces, camera, person.mask, humanoid.spec.height, axes)
    rigged = rigged.moved(rigged.vertices + silhouette.to_rest(move, matrices))
    posed = posed + move
    turned = np.einsum("nij,nj->ni", matrices[:, :3, :3], rigged.normals)
    posed_normals = body.vertex_normals(posed, rigged.faces, turned)
    progress(68, "painting")
    view = projection.view(rgb, person.mask, camera, posed, rigged.faces, humanoid.spec.height)
    columns = rigged.attributes.shape[1]
    colour = projection.colour_function(paint.colour_function(humanoid, columns - 5), view, columns)
    shown = fit.shown_bones(observation.reliable, rest_skeleton.names)
    trust = (rigged.weights * shown[rigged.joints.astype(np.int64)]).sum(axis=1)
    rest, texture, source = body.textured_mesh(
        humanoid, rigged, texture_size, colour, np.column_stack([posed, posed_normals, trust])
    )
    posed_mesh = dataclasses.replace(rest, positions=posed[source], normals=posed_normals[source])
    iou = silhouette_iou(posed, rigged.faces, camera, person.mask)
    return FittedAvatar(rest, posed_mesh, rest_skeleton, posed_skeleton, texture, camera, observation, iou)


def overlay(rgb: np.ndarray, fitted: FittedAvatar, mask: np.ndarray) -> np.ndarray:
    """The photo with the person's outline (white) and the fitted avatar's outline (green) drawn over it."""
    image = rgb.copy()
    seen = render.silhouette(fitted.camera.pixels(fitted.posed.positions) - 0.5, fitted.posed.indices, mask.shape)
    width = max(1, round(max(mask.shape) / 300))
    for region, colour in ((mask, (255, 255, 255)), (seen, (40, 220, 60))):
        contours, _ = cv2.findContours(region.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
        cv2.drawContours(image, contours, -1, colour, width, cv2.LINE_AA)
    return image


def people_in(rgb: np.ndarray, alpha: np.ndarray | None) -> list[Person]:
    """The people with pose landmarks in a photo, most prominent first (a transparent background is their mask)."""
    mask = clean(alpha >= 128, smooth=False) if alpha is not None and (alpha < 128).any() else None
    return [p for p in find_people(rgb, mask) if p.landmarks is not None]


class FitAvatarGenerator:
    """The classical PHOTO_TO_AVATAR backend: MediaPipe observations fit the parametric humanoid, CPU only."""

    name = "fit"

    def generate(self, inputs: dict[str, Path], params: dict, workdir: Path, progress: ProgressFn) -> StageResult:
        """Write avatar.glb (rest pose), posed.glb (photo pose), thumbnail.png and overlay.png (params validated)."""
        started = time.monotonic()
        progress(2, "reading image")
        rgb, alpha = load_image(inputs["image"])
        progress(5, "finding people")
        people = people_in(rgb, alpha)
        if not people:
            raise BadInputError("NO_PERSON", "No person with a visible body was found in the photo.")
        if params["person"] >= len(people):
            raise BadInputError(
                "NO_PERSON", f"The photo shows {len(people)} people; person {params['person']} does not exist."
            )
        person = people[params["person"]]
        fitted = fit_person(rgb, person, params["pose"], params["targetTriangles"], params["textureSize"], progress)
        progress(88, "writing GLB")
        avatar_path = gltf.write_glb(
            workdir / "avatar.glb", [fitted.rest], fitted.rest_skeleton, name="PHOTO_TO_AVATAR"
        )
        posed_path = gltf.write_glb(
            workdir / "posed.glb", [fitted.posed], fitted.posed_skeleton, name="PHOTO_TO_AVATAR"
        )
        progress(93, "rendering thumbnail")
        thumbnail, overlay_path = workdir / "thumbnail.png", workdir / "overlay.png"
        mesh = fitted.rest
        thumbnail.write_bytes(
            render.png_bytes(
                render.shaded(mesh.positions, mesh.indices, mesh.normals, mesh.uvs, fitted.texture, yaw=20.0, pitch=5.0)
            )
        )
        overlay_path.write_bytes(render.png_bytes(overlay(rgb, fitted, person.mask)))
        progress(100, "done")
        spec = fitted.observation.spec
        return StageResult(
            outputs=[
                Output(avatar_path, "MODEL_3D", "glb"),
                Output(posed_path, "MODEL_3D", "posed"),
                Output(thumbnail, "IMAGE", "thumbnail"),
                Output(overlay_path, "IMAGE", "overlay"),
            ],
            metadata={
                "backend": self.name,
                "people": len(people),
                "person": params["person"],
                "personCoverage": round(person.coverage, 4),
                "reliableLandmarks": int(fitted.observation.reliable.sum()),
                "attributes": spec.describe(),
                "pose": params["pose"],
                "photoCamera": fitted.camera.describe(),
                "silhouetteIoU": round(fitted.iou, 4),
                "heightMetres": round(float(np.ptp(mesh.positions[:, 1])), 3),
                "skeleton": "mixamo",
                "joints": len(fitted.rest_skeleton.names),
                "triangles": len(mesh.indices),
                "vertices": len(mesh.positions),
                "textureSize": params["textureSize"],
                "seconds": round(time.monotonic() - started, 2),
            },
        )


generators.register(generators.PHOTO_TO_AVATAR, FitAvatarGenerator(), default=True)


def photo_avatar(inputs: dict[str, Path], params: dict, workdir: Path, progress: ProgressFn) -> StageResult:
    """PHOTO_TO_AVATAR stage: inputs {"image"} -> glb (rest pose, rigged), posed (photo's pose), thumbnail, overlay."""
    if "image" not in inputs:
        raise BadInputError("MISSING_INPUT", "PHOTO_TO_AVATAR needs an image.")
    return generators.run(generators.PHOTO_TO_AVATAR, inputs, params_for("photo_avatar", params), workdir, progress)
