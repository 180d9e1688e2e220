/* Keeps nflow_datasets a valid library while datasets/ holds no C file. */
typedef int nflow_empty_translation_unit;
