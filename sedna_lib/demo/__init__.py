"""The demo: the main job of sedna_lib on embedded defaults (local storage, servers on 127.0.0.1)."""
