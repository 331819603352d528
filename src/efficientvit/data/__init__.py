"""Dataset label metadata and image I/O for inference."""
