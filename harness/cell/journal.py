"""Finished jobs survive an interrupt: one JSON line each, so a cell resumes mid-way.

The first line is a header (cell, run, versions, scenario names); a journal
whose header differs from the current run's is ignored. A torn last line (the
runner killed while appending) is ignored too. The journal is deleted once the
cell CSV is written.
"""
import json
import os

from . import protocol, schema
from .supervisor import Job


class Journal(object):
    def __init__(self, path, header):
        self.path = path
        self.header = header

    def load(self):
        """Jobs finished by an earlier, interrupted run of the same cell; [] when none."""
        try:
            with open(self.path, "rb") as handle:
                lines = handle.read().split(b"\n")
        except (IOError, OSError):
            return []
        records = []
        for line in lines:
            try:
                records.append(json.loads(line.decode("utf-8")))
            except ValueError:
                continue
        if not records or records[0] != {"header": self.header}:
            return []
        jobs = {}
        for record in records[1:]:
            try:
                job = Job(record["mode"], int(record["repeat"]), [])
                job.results = [protocol.Result(name, status, detail, [tuple(r) for r in rows])
                               for name, status, detail, rows in record["results"]]
            except (KeyError, TypeError, ValueError):
                continue
            if sorted(r.scenario for r in job.results) == sorted(self.header["names"]):
                jobs[job.key] = job
        return [jobs[key] for key in sorted(jobs)]

    def start(self, jobs=()):
        """Begin the journal afresh, keeping ``jobs`` (those loaded for a resume)."""
        text = json.dumps({"header": self.header}, sort_keys=True) + "\n"
        text += "".join(self._line(job) for job in jobs)
        schema.write_atomic(self.path, text)

    def append(self, job):
        """Add a finished job; False when the journal cannot be written (the run goes on,
        only a resume after an interrupt would redo that job)."""
        try:
            with open(self.path, "a") as handle:
                handle.write(self._line(job))
                handle.flush()
                os.fsync(handle.fileno())
        except (IOError, OSError):
            return False
        return True

    def remove(self):
        try:
            os.unlink(self.path)
        except OSError:
            pass

    @staticmethod
    def _line(job):
        return json.dumps({"mode": job.mode, "repeat": job.repeat,
                           "results": [[r.scenario, r.status, r.detail, [list(x) for x in r.rows]]
                                       for r in job.results]}, sort_keys=True) + "\n"
