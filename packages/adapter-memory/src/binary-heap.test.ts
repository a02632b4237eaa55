import { describe, expect, it } from 'vitest';
import { BinaryHeap } from './binary-heap.js';

describe('BinaryHeap', () => {
  it('pops in order for random input', () => {
    const heap = new BinaryHeap<number>((a, b) => a - b);
    const values = Array.from({ length: 1000 }, () => Math.floor(Math.random() * 100));
    for (const value of values) heap.push(value);
    const popped: number[] = [];
    while (heap.size > 0) popped.push(heap.pop() as number);
    expect(popped).toEqual([...values].sort((a, b) => a - b));
    expect(heap.pop()).toBeUndefined();
  });
});
