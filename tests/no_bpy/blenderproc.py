"""Put first on the child's path by tests/conftest.py's cli() in tests without the render marker."""
raise ImportError("blenderproc imported by a test without @pytest.mark.render (see cli() in tests/conftest.py)")
