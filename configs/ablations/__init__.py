"""Ablation configs of the ALBERT paper (Tables 3 and 4): ALBERT-base with
E in {64, 128, 256, 768} and `sharing` in {all, attention, ffn, none}, named
`albert_base_e{E}_{sharing}.json`. Other values are those of the base preset."""
