"""Sample jobs for a new board (`make demo-data`, and `make run` on an empty board unless
CAREERS_DEMO_DATA=false). Every one is posted by the sample employer and flagged
`sample`, so nobody mistakes them for real openings; the employer and places are made up.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import yaml

from medcode_contracts.careers import JobInput

EMPLOYER_ID = "sample-employer"
COMPANY = "Sample Health Partners (sample data)"
NOTE = "\n\nThis is a sample listing that shows how the job board works; it is not a real opening."

# The jobs' fields (JobInput, without company and expiry), in sample_jobs.yaml.
SAMPLE_JOBS: list[dict] = yaml.safe_load(Path(__file__).with_name("sample_jobs.yaml").read_text(encoding="utf-8"))


def jobs(today: date) -> list[JobInput]:
    """The sample jobs as posts, listed for a month from `today`."""
    return [
        JobInput(
            company=COMPANY, expires_on=today + timedelta(days=30), **{**job, "description": job["description"] + NOTE}
        )
        for job in SAMPLE_JOBS
    ]
