// Rating-curve shorthands for the kinds of flood gauge in the fleet: a city drain, and a stream or river.
export const drain = (zeroFlowLevel: number) => ({ zeroFlowLevel, coefficient: 3, exponent: 1.6 });
export const stream = (zeroFlowLevel: number, coefficient: number) => ({ zeroFlowLevel, coefficient, exponent: 1.6 });
