export { Sgd, Adam, Adadelta, type Optimizer } from './optimizers.js';
