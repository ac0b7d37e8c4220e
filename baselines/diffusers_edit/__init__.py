"""The ``diffusers-edit`` family: InstructPix2Pix-style editing pipelines from local folders."""
