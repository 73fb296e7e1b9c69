"""``meterseal bench``: speed measured as ratios against baselines taken in the same run.

The machine is shared and noisy, so each figure is printed beside a baseline measured in
the same run (usually ``openssl speed``), and the ratio is what the goals in
DESIGN.md speak of. Absolute figures are printed too, with the machine they ran on.
"""
