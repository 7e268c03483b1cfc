"""Certificate rotation without an outage, in six resumable stages.

1. generate — a new key and certificate for the same app (same CN), in a new folder
   `<stem>-<YYYYmmdd>` beside the old one; the old files stay where they are.
2. upload — the new .cer goes beside the old one on the app registration, so both work
   (app's object ID known: Graph addKey, proven with the current key, on any tenant; else
   demo: uploaded for real through the portal API; real tenant: the user does it and says so).
3. test — positive test with the new certificate, then the negative test.
4. switch — the user moves the script to the new files/thumbprint (we show the exact lines).
5. retire — the old certificate is removed from the app registration (Graph removeKey proven
   with the new key when the object ID is known; demo: the portal API; else the user), then
   proven dead: a token request signed with the old key must be refused with AADSTS700027.
   The profile now points at the new certificate.
6. archive — the old files move to `archive/<old folder>-retired-<YYYYmmdd>/`, nothing deleted.

The profile's `rotation` (a RotationState) records the next stage after each one, so a
rotation can be left at any point and resumed later, from the CLI or the wizard.

Modules: stages (the list, a leaf), progress (where a rotation stands), access (the tenant,
the portal and the keys), work (one function per stage; each saves the profile, none prompts,
prints or imports Textual), runner (the one loop `rotate` and the Renew screen drive),
self_service (Graph addKey/removeKey and their proof), unattended (when a scheduled run is
due, the profile's rotation lock).
This package module imports nothing, so the profile model can read `stages` without a cycle.
"""
