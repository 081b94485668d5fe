"""What the variational programs (vqe, qaoa) share: inputs, circuits, the objective and its record.

Not a program itself (it has no ``metadata.json``). The optimizers and the estimation of
expectation values are in :mod:`qruntime.algorithms`, usable outside programs; what lives here
needs a program's backend and messenger: transpiling the job's circuits once, running each batch
of points as one ``backend.run``, measurement error mitigation, interim results.
"""
