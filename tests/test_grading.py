"""lib.grading: PASS for a correct answer, FAIL with the reason for every kind of wrong one."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lib.grading import compare, grade


def inputs(key):
    return (jax.random.normal(key, (6, 3)),)


def reference(X):
    return jnp.sum(X ** 2, axis=1)


def run(capsys, student, **kw):
    grade(student, reference, inputs, name="sq_norms", **kw)
    out = capsys.readouterr().out.strip()
    assert out.count("\n") == 0, out
    return out


def test_pass(capsys):
    out = run(capsys, lambda X: np.einsum("ij,ij->i", np.asarray(X), np.asarray(X)))
    assert out.startswith("PASS sq_norms: 5 random cases")


@pytest.mark.parametrize("student, reason", [
    (lambda X: (_ for _ in ()).throw(NotImplementedError), "not implemented yet"),
    (lambda X: 1.1 * reference(X), "max rel. error 0.1"),
    (lambda X: reference(X)[:-1], "shape (5,), expected (6,)"),
    (lambda X: reference(X) / 0.0, "non-finite"),
    (lambda X: None, "is None"),
    (lambda X: X[10, 10] + "a", "raised"),
    (lambda X: (reference(X), reference(X)), "returned 2 value(s), expected 1"),
])
def test_fail_reasons(capsys, student, reason):
    out = run(capsys, student)
    assert out.startswith("FAIL sq_norms:") and reason in out, out


def test_inputs_are_fresh_and_deterministic(capsys):
    """The cases differ from each other and are the same on every call."""
    seen = []
    grade(lambda X: seen.append(np.asarray(X)) or reference(X), reference, inputs)
    grade(lambda X: seen.append(np.asarray(X)) or reference(X), reference, inputs)
    assert len(seen) == 10 and not np.allclose(seen[0], seen[1])
    assert all(np.array_equal(a, b) for a, b in zip(seen[:5], seen[5:]))


def test_compare_tolerance_and_structure():
    assert compare((1.0, np.ones(3)), [1.0 + 1e-7, np.ones(3)]) is None
    assert "index (1,)" in compare(np.array([1.0, 2.0]), np.array([1.0, 2.1]))
    assert compare(0.0, 1e-9) is None        # atol covers a zero reference
    assert "expected numbers" in compare("x", 1.0)


def test_validation():
    with pytest.raises(ValueError, match="n_cases"):
        grade(reference, reference, inputs, n_cases=0)
    with pytest.raises(ValueError, match="rtol"):
        grade(reference, reference, inputs, rtol=-1.0)
    with pytest.raises(ValueError, match="callables"):
        grade(reference, 3, inputs)
