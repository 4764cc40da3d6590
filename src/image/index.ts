export { type RgbImage, rgbImage } from './image.js';
export { decodeImage, sniffImageFormat, ImageDecodeError, type ImageFormat } from './decode.js';
export { resizeImage, resizeShorterSide, type Interpolation } from './resize.js';
export { centerCrop } from './crop.js';
export { imageToTensor, preprocessImage } from './preprocess.js';
