"""The firm's catalogue and public face: regions and areas, staff profiles and specialties,
the public directory page, and the inquiries it receives.

Modules: :mod:`.models` (tables), :mod:`.regions`, :mod:`.staff`, :mod:`.public`,
:mod:`.inquiries`.
"""
