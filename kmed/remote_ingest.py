"""`kmed ingest --server URL`: send the files to a running service and follow its job.

The service ingests them itself (one writer, searches go on); this command shows the same
progress bar and table as a local `kmed ingest`.
"""

from __future__ import annotations

import time
from pathlib import Path

import httpx
from rich.progress import Progress

from kmed.console import err, ingest_columns, ingest_table, out, pages_cell


def remote_ingest(files: list[Path], server: str, key: str | None, form: dict[str, str]) -> int:
    """Upload, follow the job, print its table; the exit code (1 when a file failed)."""
    headers = {"X-API-Key": key} if key else {}
    with httpx.Client(base_url=server.rstrip("/"), headers=headers, timeout=120) as client:
        try:
            uploads = [("files", (f.name, f.read_bytes())) for f in files]
            response = client.post("/v1/documents", files=uploads, data=form)
        except httpx.HTTPError as exc:
            err.print(f"[red]error:[/red] cannot reach {server}: {exc}")
            return 3
        if response.status_code != 202:
            detail = (
                response.json().get("detail") if "json" in response.headers.get("content-type", "") else ""
            )
            said = detail or response.text
            err.print(f"[red]error:[/red] {server} refused the upload ({response.status_code}): {said}")
            return 2
        job = response.json()
        with Progress(*ingest_columns(), console=err, transient=True) as progress:
            task = progress.add_task("queued", total=None)
            while job["status"] in ("queued", "running"):
                time.sleep(0.5)
                job = client.get(f"/v1/jobs/{job['id']}").json()
                step = job["progress"]
                if step["stage"] == "embedding":
                    progress.update(
                        task,
                        description="embedding clauses",
                        total=step["units"],
                        completed=step["units_embedded"],
                    )
                else:
                    progress.update(task, description=step["stage"])
    rows = [
        (r["name"], r["status"], r["format"], r["title"], r["version"], r["units"], r["supplementary"],
         pages_cell(r["pages"], r["ocr_pages"]), r["written"], r["removed"])
        for r in job["results"]
    ]  # fmt: skip
    for r in job["results"]:
        if r["status"] == "failed":
            err.print(f"[red]✗[/red] {r['name']}: {r['error']}")
    table = ingest_table(f"ingested into {server} (job {job['id']})", rows)
    out.print(table)
    failed = sum(r["status"] == "failed" for r in job["results"])
    out.print(
        f"{len(job['results']) - failed} ok, {failed} failed; job {job['status']}"
        + (f": {job['error']}" if job["error"] else "")
    )
    return 1 if failed or job["status"] == "failed" else 0
