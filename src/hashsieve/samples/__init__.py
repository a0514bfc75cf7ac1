"""Benign sample media the demo and the tests generate: photo-like pictures (``images``) and clips
(``video``). Nothing here is ever real material; every picture is made from numbers."""
