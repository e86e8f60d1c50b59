"""The firm's catalogue and public face: regions and areas, staff profiles and specialties,
staff members' working hours and absences, the public directory page, and the inquiries it
receives.

Modules: :mod:`.models` (tables), :mod:`.regions`, :mod:`.staff`, :mod:`.hours`, :mod:`.public`,
:mod:`.inquiries`.
"""
