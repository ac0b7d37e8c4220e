"""The shapes world: scenes, renderer, grammars, exact detector and edit checker.

World data shared by the shapes models (which train on it and whose oracle renders it)
and the suites' shapes plugins. It imports nothing else from hbench.
"""

from .detect import Detection, DetectorConfig, background_of, classify_color, detect
from .edits import (
    EDIT_KINDS,
    UNCOVERED_GEDIT_TYPES,
    Edit,
    EditCheck,
    check_edit,
    make_edit,
    sample_edit,
)
from .geneval_format import TAGS, make_metadata_set, scene_for_metadata, shapes_metadata_set
from .language import (
    CAPTION_PROMPT,
    QA,
    QA_KINDS,
    caption,
    caption_scene,
    final_answer,
    questions,
    sample_vqa,
    vocabulary,
    vqa_scene,
)
from .render import object_mask, render
from .scene import (
    BACKGROUNDS,
    CELLS,
    COLORS,
    IMAGE_SIZE,
    PALETTE,
    SHAPES,
    Scene,
    ShapeObject,
    sample_scene,
)

__all__ = [
    "BACKGROUNDS", "CAPTION_PROMPT", "CELLS", "COLORS", "EDIT_KINDS", "IMAGE_SIZE", "PALETTE", "QA", "QA_KINDS",
    "SHAPES", "TAGS", "UNCOVERED_GEDIT_TYPES", "Detection", "DetectorConfig", "Edit", "EditCheck",
    "Scene", "ShapeObject", "background_of", "caption", "caption_scene", "check_edit",
    "classify_color", "detect", "final_answer", "make_edit", "make_metadata_set", "object_mask", "questions",
    "render", "sample_edit", "sample_vqa", "sample_scene", "scene_for_metadata", "shapes_metadata_set",
    "vocabulary", "vqa_scene",
]  # fmt: skip
