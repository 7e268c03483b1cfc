"""Workshop mode: one demo tenant, one app per seat, the wizard served to browsers.

No Textual here (the trainer's view and the join screen live in screens/).
- room: the workshop folder (workshop.json, claims.json), join codes, seat tokens, joining
- status: the record each seat's wizard keeps of where it is (status.json per seat)
- roster: the trainer's rows (claims + status + what the demo tenant recorded), sort, export
- web: the browsers' server (textual-serve) in a thread, and every seat process it starts
"""

from wizard.workshop.room import Room, SeatApp, SeatClaim

__all__ = ["Room", "SeatApp", "SeatClaim"]
