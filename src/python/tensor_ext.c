/* genc.Tensor methods written in Python (python/genc/_tensor_ext.py: numpy's array protocols,
 * PyTorch's names): genc/__init__.py hands them to _install_tensor_methods, which puts them
 * in the C type's dict, next to (or over) the C methods. Only str names are accepted; the
 * values are stored as given (functions become methods through the descriptor protocol). */
#include "pygenc.h"

/* _install_tensor_methods(dict): put each name -> object in genc.Tensor's dict. */
static PyObject *install_tensor_methods(PyObject *self, PyObject *d) {
    if (!PyDict_Check(d)) return PyErr_Format(PyExc_TypeError, "_install_tensor_methods: expected a dict");
    PyObject *k, *v;
    Py_ssize_t pos = 0;
    while (PyDict_Next(d, &pos, &k, &v)) {
        if (!PyUnicode_Check(k)) return PyErr_Format(PyExc_TypeError, "_install_tensor_methods: names must be str");
        if (PyDict_SetItem(Tensor_Type.tp_dict, k, v) < 0) return NULL;
    }
    PyType_Modified(&Tensor_Type);
    Py_RETURN_NONE;
}
static PyMethodDef install_def = {"_install_tensor_methods", install_tensor_methods, METH_O,
                                  "_install_tensor_methods(methods, /)\n--\n\nadd Python-defined methods to genc.Tensor (internal)"};

int pg_tensor_ext_init(PyObject *m) {
    PyObject *f = PyCFunction_NewEx(&install_def, NULL, NULL);
    if (!f || PyModule_AddObject(m, "_install_tensor_methods", f) < 0) {
        Py_XDECREF(f);
        return -1;
    }
    return 0;
}
