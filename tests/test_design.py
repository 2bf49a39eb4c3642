import numpy as np

from brainattr.design import delay_features, delayed_design, fold_design


def test_delay_features_by_hand():
    x = np.arange(10, dtype=float).reshape(5, 2)  # rows [0,1],[2,3],...
    runs = np.array([1, 1, 1, 2, 2])
    d = delay_features(x, runs, 2)
    expected = np.array(
        [
            [0, 0, 0, 0],
            [0, 1, 0, 0],
            [2, 3, 0, 1],
            [0, 0, 0, 0],  # first TR of run 2: delays fall in run 1 -> zero
            [6, 7, 0, 0],
        ],
        dtype=float,
    )
    np.testing.assert_array_equal(d, expected)


def test_fold_design_uses_training_statistics_only():
    x = np.array([[1.0, 5.0], [3.0, 5.0], [100.0, 7.0]])
    y = np.array([[2.0], [4.0], [50.0]])
    train = np.array([True, True, False])
    xs, yc, mu, sd, y_mean = fold_design(x, y, train)
    np.testing.assert_allclose(mu, [2.0, 5.0])
    np.testing.assert_allclose(sd, [1.0, 1.0])  # the constant column keeps sd 1
    np.testing.assert_allclose(xs, [[-1.0, 0.0], [1.0, 0.0]])
    np.testing.assert_allclose(yc, [[-1.0], [1.0]])
    assert y_mean[0] == 3.0


def test_delayed_design_keeps_the_kept_rows():
    x = np.arange(8.0).reshape(4, 2)
    runs = np.array([1, 1, 1, 1])
    kept = np.array([False, True, True, False])
    np.testing.assert_array_equal(delayed_design(x, runs, kept, 1), [[0.0, 1.0], [2.0, 3.0]])
