"""The diffusers system family: any diffusers text-to-image pipeline from a local folder."""
