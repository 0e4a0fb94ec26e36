"""Device profiles: YAML files that describe device models, validated at load.

A profile's top-level ``kind`` (locker | printer | camera) picks its schema. Adding a model needs a
YAML file, never code.
"""
from device_profiles.schema import (
    PROFILE_ROOT,
    ProfileError,
    load_profile,
    load_profile_as,
    profile_files,
)

__all__ = ["PROFILE_ROOT", "ProfileError", "load_profile", "load_profile_as", "profile_files"]
