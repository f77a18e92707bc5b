package org.alberttf.core

import org.junit.Assert.assertArrayEquals
import org.junit.Assert.assertEquals
import org.junit.Assert.assertTrue
import org.junit.Assert.fail
import org.junit.Test

/** [BertInputs.trimmed]: what a length-adaptive model (`*_adaptive.tflite`, inputs `[1, -1]`) is fed. */
class LengthAdaptiveInputsTest {
    private val special = SpecialIds(pad = 0, unk = 1, cls = 2, sep = 3, mask = 4)

    @Test
    fun oneSegmentIsCutToClsTextSep() {
        val packed = BertInputs.pack(intArrayOf(10, 11, 12), null, 8, special)
        assertEquals(5, packed.realLength)
        val cut = packed.trimmed()
        assertArrayEquals(intArrayOf(2, 10, 11, 12, 3), cut.ids)
        assertArrayEquals(IntArray(5) { 1 }, cut.mask)
        assertArrayEquals(IntArray(5), cut.segmentIds)
        assertEquals(packed.lengthA, cut.lengthA)
        // The padded inputs are the cut ones followed by padding: the same real tokens.
        assertArrayEquals(cut.ids, packed.ids.copyOf(5))
        assertTrue(packed.ids.drop(5).all { it == special.pad } && packed.mask.drop(5).all { it == 0 })
    }

    @Test
    fun pairKeepsItsSegmentIdsAndTruncation() {
        val packed = BertInputs.pack(intArrayOf(10, 11), intArrayOf(20, 21, 22, 23, 24, 25), 8, special)
        val cut = packed.trimmed()
        assertEquals(8, cut.ids.size)  // truncated to fit 8: nothing to cut
        assertArrayEquals(packed.segmentIds, cut.segmentIds)
        val short = BertInputs.pack(intArrayOf(10), intArrayOf(20), 16, special).trimmed()
        assertArrayEquals(intArrayOf(2, 10, 3, 20, 3), short.ids)
        assertArrayEquals(intArrayOf(0, 0, 0, 1, 1), short.segmentIds)
        assertEquals(3, short.firstPositionB)
    }

    @Test
    fun maskWithAHoleIsRejected() {
        val holed = BertInputs(intArrayOf(2, 10, 0, 11), intArrayOf(1, 1, 0, 1), IntArray(4), 3, -1)
        try {
            holed.trimmed()
        } catch (e: IllegalArgumentException) {
            assertTrue(e.message!!.contains("mask must be 1 on the real tokens"))
            return
        }
        fail("trimmed() accepted a mask with padding between real tokens")
    }
}
