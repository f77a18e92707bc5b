"""benchmarks/step_profile.py: self times from a profiler trace, nested events subtracted."""

from __future__ import annotations

import importlib.util
import pathlib

SCRIPT = pathlib.Path(__file__).resolve().parents[1] / "benchmarks" / "step_profile.py"


def _load_script():
    spec = importlib.util.spec_from_file_location("step_profile", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_self_time_subtracts_nested_events_on_the_same_thread_only(tmp_path):
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    step_profile = _load_script()
    space = xplane_pb2.XSpace()
    plane = space.planes.add(name="/host:CPU")
    names = {1: "__inference_train_function:Run", 2: "dense/MatMul:_MklMatMul", 3: "add_multiply_fusion.clone",
             4: "dense/BiasAdd:BiasAdd", 5: "other_thread/MatMul:_MklMatMul"}
    for metadata_id, name in names.items():
        plane.event_metadata[metadata_id].id = metadata_id
        plane.event_metadata[metadata_id].name = name
    thread = plane.lines.add(id=1)
    # Run [0, 100) holds MatMul [10, 40), which holds a fusion [20, 30); BiasAdd [50, 60) follows.
    for metadata_id, start, duration in ((4, 50, 10), (1, 0, 100), (3, 20, 10), (2, 10, 30)):
        thread.events.add(metadata_id=metadata_id, offset_ps=start, duration_ps=duration)
    other = plane.lines.add(id=2)  # overlapping in time, but on another thread: not nested
    other.events.add(metadata_id=5, offset_ps=15, duration_ps=50)
    ignored = space.planes.add(name="/device:GPU:0")
    ignored.event_metadata[1].name = "gpu kernel"
    ignored.lines.add().events.add(metadata_id=1, offset_ps=0, duration_ps=1000)
    trace = tmp_path / "host.xplane.pb"
    trace.write_bytes(space.SerializeToString())

    times = step_profile.self_times(str(trace))

    assert times == {names[1]: 100 - 30 - 10, names[2]: 30 - 10, names[3]: 10, names[4]: 10, names[5]: 50}
    assert [step_profile.op_type(name) for name in names.values()] == [
        "Run", "_MklMatMul", "add_multiply_fusion.clone", "BiasAdd", "_MklMatMul"]
    assert step_profile.op_type("ExecutorState::ProcessAsync::Start") == "ExecutorState::ProcessAsync::Start"
