"""The camera's image pipeline and lens effects (pure numpy/OpenCV), and fitting it to a real camera."""
