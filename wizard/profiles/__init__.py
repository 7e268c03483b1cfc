"""Saved profiles: what was set up and proven, so it can be re-tested, watched and rotated.

model.py declares a profile and its rotation state (each field once), store.py reads and
writes the profiles file, adapters.py builds a profile from the wizard's answers and gives
`test --profile` its inputs.
"""

from wizard.profiles.adapters import (
    ProfileConnectionInputs,
    connection_inputs_for_profile,
    organization_domain_from,
    profile_from_files,
    profile_from_state,
    save_profile_from_state,
)
from wizard.profiles.model import Profile, RotationState
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
    "connection_inputs_for_profile",
    "get_profile",
    "load_profiles",
    "organization_domain_from",
    "profile_from_files",
    "profile_from_state",
    "profile_to_json",
    "profiles_file",
    "record_test_result",
    "save_profile",
    "save_profile_from_state",
]
