"""The benchmark refuses, before generating anything, a scale whose files would not fit on disk."""
from __future__ import annotations

import shutil

from bench import run


def test_a_scale_that_does_not_fit_on_disk_is_refused_before_generating(tmp_path, capsys):
    free_gb = shutil.disk_usage(tmp_path).free / 1e9
    assert run.disk_shortfall(tmp_path, "1k", 7) is None
    too_big = f"{int(free_gb / 1.2 * 2) + 1}M"  # about twice what the disk holds
    need, free = run.disk_shortfall(tmp_path, too_big, 7)
    assert need > free and abs(free - free_gb) < 5
    assert run.main(["--scale", too_big, "--dir", str(tmp_path / "bench")]) == 2
    err = capsys.readouterr().err
    assert f"bench {too_big}: needs about" in err and "nothing was generated" in err
    assert not (tmp_path / "bench").exists()
