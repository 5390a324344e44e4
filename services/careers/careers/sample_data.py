"""Sample jobs for a new board (`make demo-data`, and `make run` on an empty board unless
CAREERS_DEMO_DATA=false). Every one is posted by the sample employer and flagged
`sample`, so nobody mistakes them for real openings; the employer and places are made up.
"""
from __future__ import annotations

from datetime import date, timedelta

from medcode_contracts.careers import JobInput

EMPLOYER_ID = "sample-employer"
COMPANY = "Sample Health Partners (sample data)"
NOTE = "\n\nThis is a sample listing that shows how the job board works; it is not a real opening."

SAMPLE_JOBS: list[dict] = [
    dict(title="Outpatient Coder II", location="Austin, TX", remote=False, employment_type="Full-time",
         salary_min=52000, salary_max=61000, certifications=["CPC", "COC"], specialty="Outpatient surgery",
         description="Code same-day surgery and clinic encounters with ICD-10-CM, CPT and HCPCS Level II. "
                     "Apply NCCI edits and modifiers 59, XS and 25 correctly, and query surgeons when the "
                     "operative note is unclear. Two years of outpatient coding experience."),
    dict(title="Remote Risk Adjustment Coder", location="Anywhere in the US", remote=True,
         employment_type="Full-time", salary_min=55000, salary_max=68000, certifications=["CRC"],
         specialty="Risk adjustment",
         description="Review Medicare Advantage charts and capture HCC diagnoses that are supported by "
                     "MEAT documentation. Productivity and accuracy targets, a weekly audit sample and a "
                     "coding educator who answers questions within the day."),
    dict(title="Inpatient Coding Specialist", location="Columbus, OH", remote=False, employment_type="Full-time",
         salary_min=62000, salary_max=74000, certifications=["CCS", "RHIT"], specialty="Inpatient",
         description="Assign ICD-10-CM and ICD-10-PCS codes and MS-DRGs for acute inpatient stays, work "
                     "clinical documentation queries with CDI, and keep DNFB low. CCS or RHIT required."),
    dict(title="Emergency Department Coder", location="Denver, CO", remote=True, employment_type="Full-time",
         salary_min=50000, salary_max=58000, certifications=["CPC", "CCS-P"], specialty="Emergency medicine",
         description="Code ED professional and facility charges, including E/M levels 99281-99285, "
                     "critical care time and procedures such as laceration repair and splinting."),
    dict(title="Medical Coding Auditor", location="Atlanta, GA", remote=True, employment_type="Contract",
         salary_min=75000, salary_max=90000, certifications=["CPMA", "CPC"], specialty="Compliance auditing",
         description="Audit physician coding against documentation, report error rates and financial "
                     "impact, and teach providers and coders what the findings mean. Six-month contract."),
    dict(title="Cardiology Coder", location="Nashville, TN", remote=False, employment_type="Full-time",
         salary_min=54000, salary_max=63000, certifications=["CPC", "CIC"], specialty="Cardiology",
         description="Code diagnostic and interventional cardiology: catheterizations, stents, "
                     "electrophysiology studies and echocardiography, with their bundling rules."),
    dict(title="Part-Time Billing and Coding Specialist", location="Portland, OR", remote=False,
         employment_type="Part-time", salary_min=24000, salary_max=30000, certifications=["CPB"],
         specialty="Physician billing",
         description="Twenty hours a week in a small family practice: charge entry, claim scrubbing, "
                     "denial follow-up and coding of office visits and vaccines."),
    dict(title="Entry-Level Coder (CCA)", location="Phoenix, AZ", remote=False, employment_type="Full-time",
         salary_min=40000, salary_max=46000, certifications=["CCA", "CPC"], specialty="Outpatient clinics",
         description="A first coding job with training: code primary care and specialty clinic visits, "
                     "learn the payer rules with a mentor, and grow toward a CPC or CCS."),
    dict(title="Health Information Manager", location="Minneapolis, MN", remote=False,
         employment_type="Full-time", salary_min=85000, salary_max=105000, certifications=["RHIA"],
         specialty="HIM leadership",
         description="Lead a team of twelve coders and release-of-information staff, own coding quality "
                     "and turnaround metrics, and work with compliance on audits and policies."),
    dict(title="Remote Oncology Coder", location="Anywhere in the US", remote=True, employment_type="Full-time",
         salary_min=58000, salary_max=66000, certifications=["CPC", "COC", "CCS"], specialty="Oncology",
         description="Code hematology and oncology visits, chemotherapy and immunotherapy administration "
                     "and drug units (J codes) against MUEs, including infusion hierarchy rules."),
    dict(title="Per Diem Coding Support", location="Tampa, FL", remote=True, employment_type="Per diem",
         salary_min=None, salary_max=None, certifications=["CPC"], specialty="Multi-specialty",
         description="Help clear backlogs across specialties when volume peaks; choose the shifts that "
                     "suit you. Paid hourly at a rate set by specialty and experience."),
    dict(title="Inpatient Coding Educator", location="Chicago, IL", remote=True, employment_type="Full-time",
         salary_min=80000, salary_max=95000, certifications=["CCS", "RHIA", "RHIT"], specialty="Inpatient",
         description="Design training for inpatient coders on new ICD-10-PCS guidance, run monthly case "
                     "reviews, and support coders through the annual code-set updates."),
]


def jobs(today: date) -> list[JobInput]:
    """The sample jobs as posts, listed for a month from `today`."""
    return [JobInput(company=COMPANY, expires_on=today + timedelta(days=30),
                     **{**job, "description": job["description"] + NOTE}) for job in SAMPLE_JOBS]
