"""Saved profiles: what was set up and proven, so it can be re-tested, watched and rotated.

model.py declares a profile and its rotation state (each field once), store.py reads and
writes the profiles file, conversions.py builds a profile from a certificate set and gives
`test --profile` its inputs.
"""

from wizard.profiles.conversions import (
    ProfileConnectionInputs,
    connection_inputs_for_profile,
    profile_from_files,
)
from wizard.profiles.model import Profile, RotationState, certificate_folder_of
from wizard.profiles.store import (
    get_profile,
    load_profiles,
    profile_to_json,
    profiles_file,
    record_test_result,
    save_profile,
)

__all__ = [
    "Profile",
    "ProfileConnectionInputs",
    "RotationState",
    "certificate_folder_of",
    "connection_inputs_for_profile",
    "get_profile",
    "load_profiles",
    "profile_from_files",
    "profile_to_json",
    "profiles_file",
    "record_test_result",
    "save_profile",
]
