"""Readers of the official code-set releases: the codes themselves and their index terms.

One module per source format. The code sets proper (icd10cm, icd10pcs, hcpcs) each have
`OFFICIAL_URL`, `find_release(mirror) -> Path | None` and
`read_edition(path) -> (EditionMeta, Iterator[CodeRecord])`; the records iterator streams,
so a malformed file raises `codes.release_files.MalformedRelease` part way through a load
(the store then keeps the edition that was loaded before). Beside them: the ICD-10-PCS
titles and Definitions, the index lay terms (icd10cm_index, icd10pcs_index), the HCPCS
modifiers, a licensed AMA CPT file, the ICD-9-CM titles, and the CPT code set built from
the rule editions (cpt). The coding rules (NCCI, MUE, GEMs, coverage) are in codes.rules.
"""
